"""recall: can a language model recall a key item ("she finally printed her ___") across d tokens?

`stories.py` generates the stories, `scoring.py` measures accuracy per distance, `task.py` holds the
options, preset sizes and the tuning grid (the same number of learning-rate × initialisation points
for every architecture); `outcomes.py` chooses each architecture's tuned run on validation stories and
says whether it learnt the task; `report.py` (with `tables.py`) judges. `lm_task.py` is the `recall_lm` task:
the same stories trained as a plain language model (the lecture's own framing), measured and shown.
"""
from .scoring import distance_row, distance_rows, recall_metrics, story_example  # noqa: F401
from .stories import (DISTRACTOR_TEMPLATES, ITEMS, TEMPLATES, FillerPool, Story, filler_pools,  # noqa: F401
                      make_stories, make_story, read_filler_file)
from .task import INIT_AXES, Recall, RecallOptions, tuning_grid  # noqa: F401
from .lm_task import RecallLM  # noqa: F401  (registers recall_lm)

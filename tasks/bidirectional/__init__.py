"""Bidirectional taggers against forward taggers with delayed output, where the right context decides.

`sentences.py` builds the data, `delay.py` the delayed forward baseline, `task.py` measures (`bidir_tag`),
`rules.py` judges the claim, `report.py` writes tables, plots and checks.
"""
from .sentences import (  # noqa: F401
    BOTH_SIDES, INTENSIFIERS, LOCAL, NEGATIVE, POSITIVE, RESERVED, RIGHT_ONLY, TAGS, NeutralText, Tagged,
    tagged_sentence)
from .task import BidirectionalTagging, TagOptions, predict_tags, tag_metrics  # noqa: F401

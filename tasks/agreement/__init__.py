"""Subject–verb agreement: syntactic vs sequential recency (Linzen, Dupoux & Goldberg 2016).

`items` builds the training corpus and the probe frames, `task` trains and scores (the `agreement` LM task
and the `agreement_number` classifier), `metrics` turns outcomes into item rows, `rules` holds the
statistical rules and their power analysis, and `report` judges the claims from the item rows.
"""
from .items import CorpusSpec, make_corpus, number_examples, to_item  # noqa: F401
from .task import AgreementOptions, LM_TASK, NUMBER_TASK  # noqa: F401
from . import report  # noqa: F401,E402  (registers the report)

"""Subject–verb agreement: syntactic vs sequential recency (Linzen, Dupoux & Goldberg 2016).

Measuring: `items` builds the training corpus and the probe frames (n intervening nouns × k = 0…n
attractors on the same words), `task` trains and scores (the `agreement` LM task and the
`agreement_number` classifier), `metrics` turns outcomes into the item rows every record carries.
Judging: `rules` holds the pre-registered statistics, `power` simulates them, `evidence` turns records into
per-seed evidence, `claims` decides the four claims, and `report` adds tables, a plot and design checks.
"""
from .items import CorpusSpec, make_corpus, number_examples, to_item  # noqa: F401
from .task import AgreementOptions, LM_TASK, NUMBER_TASK  # noqa: F401

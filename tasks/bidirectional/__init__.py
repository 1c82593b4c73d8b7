"""Unidirectional vs bidirectional recurrent models on two tasks where the whole input is known.

`sentences.py` builds the data, `task.py` measures (`bidir_tag`, `bidir_classify`), `report.py` judges
(tables, plots, the claim that bidirectional models win when the right context decides, and the checks).
"""
from .sentences import (  # noqa: F401
    BOTH_SIDES, INTENSIFIERS, LOCAL, NEGATIVE, POSITIVE, RESERVED, RIGHT_ONLY, TAGS, NeutralText, Tagged,
    classified_sentence, filler_clauses, tagged_sentence)
from .task import (  # noqa: F401
    BidirectionalClassification, BidirectionalTagging, ClassifyOptions, TagOptions, classify_metrics,
    predict_classes, predict_tags, tag_metrics)
from . import report  # noqa: F401,E402  (registers the report)

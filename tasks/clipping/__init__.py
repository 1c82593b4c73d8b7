"""clipping: exploding gradients tamed by norm clipping (Pascanu, Mikolov & Bengio 2013).

`task.py` trains replicate models with a large recurrent init and a large SGD step, with and without
clipping, and records each training's fate; `report.py` judges the diverged fractions.
"""
from .task import Clipping, ClippingOptions, clipping_metrics, replica_record  # noqa: F401
from . import report  # noqa: F401  (registers the report)

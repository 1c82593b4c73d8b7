"""clipping: exploding gradients, norm clipping, and the smaller step clipping effectively takes
(Pascanu, Mikolov & Bengio 2013; the lecture notes' "NaN and Inf").

`task.py` trains replicate models with SGD at an unstable step size, with and without clipping, plus the
effective-step control (`meter.py` reads every step's gradient norm); `rules.py` computes the two claims'
statistics and verdicts; `report.py` lays out tables and curves.
"""
from .task import Clipping, ClippingOptions, clipping_metrics, replica_record  # noqa: F401

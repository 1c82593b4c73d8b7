"""gru_vs_lstm: the cross-task claim that a GRU is cheaper than an LSTM of the same size, at equal quality.

`task.py` measures the cost (parameter counts, and training speed timed in pairs in one process);
`report.py` judges speed from those runs and quality from every language-model task's runs.
"""
from .task import CostOptions, GruVsLstm, recurrent_parameters  # noqa: F401
from . import report  # noqa: F401  (registers the report)

"""gru_vs_lstm: the cross-task claims that a GRU is cheaper than an LSTM and as good.

`task.py` measures the cost (parameter counts, and training speed timed in pairs on two kernel paths);
`speed.py` and `quality.py` compute the two claims' statistics and verdicts (quality from other tasks'
records, read by name); `report.py` lays out tables and the parameter check.
"""
from .task import CostOptions, GruVsLstm, recurrent_parameters  # noqa: F401

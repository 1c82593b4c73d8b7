"""depth: stacks of 1–8 recurrent layers with and without skip connections.

`task.py` measures (the depth × skip grid, test loss, the gradient reaching the first layer through
`meter.py`); `report.py` judges (tables, plots, and the claim that deep stacks need skips).
"""
from .meter import LayerGradientMeter, gradient_metrics  # noqa: F401
from .task import SKIP_STYLES, Depth, DepthOptions  # noqa: F401
from .feedforward import FeedForwardDepth, FeedForwardLM  # noqa: F401  (registers ff_depth)

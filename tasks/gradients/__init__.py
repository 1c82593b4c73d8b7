"""gradients: ‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against distance (issue 5, judged as issue 11 asks).

`task.py` measures (options, sizes, the spectrum and architectures experiments), `measurement.py` is one
measurement of a model and the inputs it runs on, `claims.py` holds the rules (claims apart from sanity
checks) and `report.py` the tables and plots.
"""
from .task import EXPERIMENTS, SPECTRAL_RADII, Gradients, GradientsOptions  # noqa: F401

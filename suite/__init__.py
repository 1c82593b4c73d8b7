"""recency-bench: train recurrent language models and probe what they carry across distance."""
__version__ = "0.1.0"

# The zoo registers itself on import; the Transformer reference lives in its own file.
from . import models, transformer  # noqa: E402,F401

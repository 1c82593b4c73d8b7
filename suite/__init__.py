"""recency-bench: train recurrent language models and probe what they carry across distance."""
__version__ = "0.1.0"

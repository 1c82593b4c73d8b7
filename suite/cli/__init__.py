"""The command line: `run_suite.py [run|report|eval] …` (main.py), the flags run and eval share (args.py),
and the eval command (eval.py)."""
from suite.cli.main import main  # noqa: F401

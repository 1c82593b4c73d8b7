#!/usr/bin/env python
"""recency-bench entry point: `python run_suite.py --help`."""
import sys

from suite.cli.entry import main

if __name__ == "__main__":
    sys.exit(main())

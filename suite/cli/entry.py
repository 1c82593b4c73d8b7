"""The entry point of run_suite.py and the `recency-bench` command: a listing or a misspelt name is answered
from the catalogue (suite/cli/catalogue.py) before anything heavy is imported; everything else goes to the
full command line (suite/cli/main.py)."""
from __future__ import annotations

import sys
from typing import Sequence

from suite.cli.args import until_the_reader_goes
from suite.cli.catalogue import answer


def main(argv: Sequence[str] | None = None) -> int:
    code = until_the_reader_goes(answer, sys.argv[1:] if argv is None else argv)
    if code is not None:
        return code
    from suite.cli.main import main as full_command_line

    return full_command_line(argv)

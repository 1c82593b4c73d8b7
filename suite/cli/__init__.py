"""The command line: `run_suite.py [run|report|preregister|eval] …` — the entry point (entry.py) answers a
listing or a misspelt name from the catalogue (catalogue.py) and hands the rest to main.py; the flags run and
eval share (args.py), and the eval command (eval.py)."""

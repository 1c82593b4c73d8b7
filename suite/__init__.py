"""recency-bench: train recurrent language models and probe what they carry across distance.

The framework is layered; each sub-package imports only from the ones before it (tests/test_layers.py):

    core < data < models < training < task < run < judge < evaluate < cli

core      plain configuration, option validation, item rows, atomic files (no torch)
data      vocabularies and batches, corpora, tokenizers, the generated grammar
models    the architecture registry, the zoo, output layers, the Transformer reference, scoring
training  the trainer, per-step gradient measurement, paired timing
task      the measuring interface every task package implements (suite/task.py)
run       sweeps, the runner and its backends, run identity, locks, the record cache, saved models
judge     the judging interface (TaskReport), statistics, claims, tables, plots, the report
evaluate  published test sets, scoring saved and external models
cli       the command line
"""
__version__ = "0.1.0"

"""The built-in recurrent architectures by family: the one place literature claims name their references.

Claims from papers are judged on these built-in cells only (a user's cell gets its own comparison table,
never a vote in a literature verdict); the zoo (suite/models/zoo.py) registers exactly these names.
"""
VANILLA = ("rnn_tanh", "rnn_relu")  # h = σ(W_h h + W_x x + b): the cells whose gradients vanish (Bengio et al. 1994)
GATED = ("lstm", "gru")  # Hochreiter & Schmidhuber 1997; Cho et al. 2014
BUILTIN_RECURRENT = (*VANILLA, *GATED)

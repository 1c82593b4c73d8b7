"""Plot conventions shared by every figure: one colour per architecture, labelled axes, CI bands."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

_BASE_COLOURS = {"rnn_tanh": "#d62728", "rnn_relu": "#ff7f0e", "lstm": "#1f77b4", "gru": "#2ca02c",
                 "transformer": "#7f7f7f"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def colour(label: str) -> str:
    """Same colour for the same model label in every figure (architecture decides the hue)."""
    arch = label.removeprefix("bi-").split("×")[0].split("+")[0]
    if arch in _BASE_COLOURS:
        return _BASE_COLOURS[arch]
    return _EXTRA[sum(map(ord, arch)) % len(_EXTRA)]  # stable across runs, unlike hash()


def line_style(label: str) -> str:
    """Depth and skips change the dash, not the hue."""
    if "+res" in label:
        return "-."
    return "--" if "×" in label else "-"


def new_figure(width: float = 6.0, height: float = 4.0):
    fig, ax = plt.subplots(figsize=(width, height), dpi=120)
    ax.grid(alpha=0.3)
    return fig, ax


def save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""Plot conventions shared by every figure: one colour per architecture, labelled axes, CI bands; and the
data digest of every saved figure, so that a rebuilt report is compared by what its plots show rather than
by PNG bytes (which differ between font renderers)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib
import numpy as np

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


DIGESTS: dict[str, str] = {}  # saved PNG path -> digest of what it shows (read by the report's manifest)


def save(fig, path) -> None:
    DIGESTS[Path(path).as_posix()] = figure_digest(fig)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def figure_digest(fig) -> str:
    """Hash of the data a figure draws: every line, marker, band, bar and text of every axes, with the axes'
    labels, scales and titles (numbers to 10 significant digits)."""
    def numbers(values) -> list:
        return [float(f"{v:.10g}") for v in np.asarray(values, float).ravel()]

    content = []
    for ax in fig.get_axes():
        content.append([ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), ax.get_xscale(), ax.get_yscale(),
                        [numbers(line.get_xydata()) for line in ax.get_lines()],
                        [numbers(c.get_offsets()) + [numbers(p.vertices) for p in c.get_paths()]
                         for c in ax.collections],
                        [numbers(p.get_path().vertices) + numbers(p.get_patch_transform().get_matrix()) for p in ax.patches],
                        [t.get_text() for t in ax.texts]])
    return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()[:16]

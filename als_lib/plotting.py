"""One house style for the book's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["set_style", "PALETTE"]

#: dict: Colours used consistently across chapters (colour-blind safe, Okabe-Ito), by name.
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#D55E00",
    "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "grey": "#555555",
}


def set_style() -> None:
    """Apply the book's figure style (sizes, fonts, grid, colour cycle) to matplotlib."""
    plt.rcParams.update({
        "figure.figsize": (7.0, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.constrained_layout.use": True,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.frameon": False,
        "axes.prop_cycle": plt.cycler(color=list(PALETTE.values())),
    })

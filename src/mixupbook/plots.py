"""The book's figure style (one seaborn theme) and shared plot helpers."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

PALETTE = "colorblind"


# The page's text column is about 676 CSS px (7 in) wide at 1280 px. A figure at most MAX_WIDTH
# inches wide is shown at most 1:1, so its 11-12 pt fonts stay above 9 pt on the page; DPI keeps it
# sharp (tests/test_figures.py checks both on every stored figure).
MAX_WIDTH = 7.0
DPI = 150


def set_style() -> None:
    """Apply the book's style: seaborn whitegrid, colour-blind palette, readable sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.figsize": (6.4, 4.0), "figure.dpi": DPI, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "legend.fontsize": 10, "legend.title_fontsize": 10})


def decision_boundary(ax, predict, x: np.ndarray, y: np.ndarray, grid: int = 200, pad: float = 0.5, title=""):
    """Shade P(class 1) of ``predict`` (array (N, 2) -> probabilities (N,)) over the data's box; scatter the data."""
    lo, hi = x.min(0) - pad, x.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    p = predict(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=18)
    ax.set_title(title)
    return ax


def torch_predict(model, device="cpu"):
    """Wrap a 2-class torch model as ``predict(np.ndarray) -> P(class 1)`` for ``decision_boundary``."""
    def predict(points):
        with torch.no_grad():
            logits = model(torch.as_tensor(points, dtype=torch.float32, device=device))
            return torch.softmax(logits, -1)[:, 1].cpu().numpy()
    return predict

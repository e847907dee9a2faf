"""What a finished run leaves next to its checkpoint: metrics (JSON) and plots.

Everything here writes into the run's output directory only. Plots use matplotlib's Agg backend (no
display needed). The model card is written by :func:`hf_ser.cards.save_model_card`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, Path]


def write_json(path: PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON (NaN written as null), atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_json_safe(data), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def write_metrics(output_dir: PathLike, metrics_by_split: dict[str, dict[str, Any]]) -> Path:
    """Write ``metrics.json``: ``{"validation": {"uar": ...}, "test": {...}}`` (split prefixes removed)."""
    cleaned = {}
    for split, metrics in metrics_by_split.items():
        prefix = f"{split}_"
        cleaned[split] = {
            (key[len(prefix) :] if key.startswith(prefix) else key): value for key, value in metrics.items()
        }
    path = Path(output_dir) / "metrics.json"
    write_json(path, cleaned)
    return path


def plot_confusion_matrix(
    matrix: Sequence[Sequence[float]], labels: Sequence[str], path: PathLike, title: str = "Confusion matrix"
) -> Path:
    """Save a row-normalised confusion matrix (rows = true class, cells = recall %) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = max(3.0, 0.6 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(recall, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{100 * recall[i, j]:.0f}\n({int(counts[i, j])})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if recall[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_regression_scatter(
    predictions: np.ndarray,
    targets: np.ndarray,
    names: Sequence[str],
    path: PathLike,
    ccc: Optional[Sequence[float]] = None,
) -> Path:
    """Save one predicted-vs-true scatter per regression target (A/D/V) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predictions = np.asarray(predictions, dtype=float).reshape(len(predictions), -1)
    targets = np.asarray(targets, dtype=float).reshape(len(targets), -1)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names, strict=False)):
        ax.scatter(targets[:, i], predictions[:, i], s=8, alpha=0.6)
        low = float(min(targets[:, i].min(), predictions[:, i].min()))
        high = float(max(targets[:, i].max(), predictions[:, i].max()))
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8)
        suffix = f" (CCC {ccc[i]:.3f})" if ccc is not None else ""
        ax.set_title(f"{name}{suffix}", fontsize=9)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)

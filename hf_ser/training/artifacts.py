"""What a finished run leaves next to its checkpoint: metrics, plots, its config and a model card.

Everything here writes into the run's output directory only. Plots use matplotlib's Agg backend (no
display needed). The model card goes through one function, :func:`write_model_card`, so the card
templates of ``hf_ser.hub`` can replace this simple generator without touching the recipes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
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


@dataclass
class CardData:
    """What the model card says about a run (filled by :class:`~.callbacks.CardDataCallback` and the recipe).

    Args:
        model_name: name shown as the card title.
        base_model: the backbone (hub id or path) the model was fine-tuned from.
        task: ``classification``, ``regression`` or ``multitask``.
        labels: class names (classification) or regression targets.
        corpus, protocol: training data and evaluation protocol, in words.
        split_sizes: number of clips per split (``{"train": 300, ...}``).
        speakers: speakers per split.
        hyperparameters: the training hyper-parameters worth stating.
        metrics: ``metrics.json`` content (per split).
        eval_history: one row per evaluation (epoch, step, metrics).
        limitations: free-text caveats appended to the standard ones.
    """

    model_name: str = "hf_ser model"
    base_model: Optional[str] = None
    task: str = "classification"
    labels: list[str] = field(default_factory=list)
    corpus: Optional[str] = None
    protocol: Optional[str] = None
    split_sizes: dict[str, int] = field(default_factory=dict)
    speakers: dict[str, list[str]] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render_model_card(card: CardData) -> str:
    """Render :class:`CardData` as a Hub model card (YAML header + Markdown), without network access."""
    header = {
        "library_name": "transformers",
        "pipeline_tag": "audio-classification",
        "tags": ["hf_ser", "speech-emotion-recognition", "audio-classification"],
    }
    if card.base_model and not Path(card.base_model).exists():
        header["base_model"] = card.base_model
    import yaml

    lines = ["---", yaml.safe_dump(header, sort_keys=False).strip(), "---", "", f"# {card.model_name}", ""]
    what = {
        "classification": "classifies the emotion of a speech clip",
        "regression": "predicts dimensional emotion values of a speech clip",
        "multitask": "classifies the emotion and predicts dimensional values of a speech clip",
    }[card.task]
    lines.append(
        f"This model {what} ({', '.join(card.labels)}). It was trained with the hf_ser recipes"
        + (f" starting from `{card.base_model}`." if card.base_model else ".")
    )
    lines += ["", "## Data and protocol", ""]
    lines.append(f"- Corpus: {card.corpus or 'unknown'}")
    lines.append(f"- Protocol: {card.protocol or 'unknown'}")
    for split, size in card.split_sizes.items():
        speakers = card.speakers.get(split)
        who = f", speakers: {', '.join(map(str, speakers))}" if speakers else ""
        lines.append(f"- {split}: {size} clips{who}")
    if card.metrics:
        lines += ["", "## Results", ""]
        keys = sorted(
            {
                k
                for m in card.metrics.values()
                for k, v in m.items()
                if isinstance(v, (int, float))
                and k not in ("runtime", "samples_per_second", "steps_per_second", "epoch")
            }
        )
        lines.append("| split | " + " | ".join(keys) + " |")
        lines.append("|---|" + "---|" * len(keys))
        for split, metrics in card.metrics.items():
            lines.append(f"| {split} | " + " | ".join(_fmt(metrics.get(k, "")) for k in keys) + " |")
    if card.eval_history:
        lines += ["", "## Training log (validation)", ""]
        keys = [k for k in card.eval_history[-1] if k not in ("epoch", "step")]
        lines.append("| epoch | step | " + " | ".join(keys) + " |")
        lines.append("|---|---|" + "---|" * len(keys))
        for row in card.eval_history:
            lines.append(
                f"| {_fmt(row.get('epoch'))} | {row.get('step')} | "
                + " | ".join(_fmt(row.get(k, "")) for k in keys)
                + " |"
            )
    if card.hyperparameters:
        lines += ["", "## Training hyper-parameters", ""]
        lines += [f"- {key}: `{value}`" for key, value in card.hyperparameters.items()]
    lines += ["", "## Limitations", ""]
    standard = [
        "Acted or talk-show corpora do not represent spontaneous emotion in the wild; expect lower scores "
        "on other speakers, languages, microphones and recording conditions.",
        "Scores come from the speakers listed above only; small test sets give wide confidence intervals.",
        "Emotion recognition must not be used to make decisions about people without their consent.",
    ]
    lines += [f"- {item}" for item in standard + list(card.limitations)]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import hf_ser",
        "from transformers import pipeline",
        "",
        'classifier = pipeline("audio-classification", model="PATH_OR_REPO")',
        'print(classifier("speech.wav"))',
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(output_dir: PathLike, card_data: CardData) -> Path:
    """Write ``README.md`` (the model card) into ``output_dir``; the one entry point for card writing."""
    path = Path(output_dir) / "README.md"
    path.write_text(render_model_card(card_data))
    return path

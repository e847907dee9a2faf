"""Evaluate an SER model on a labelled dataset: overall, per group, fairness, bootstrap intervals.

Paper 001 found that one test score hides what matters in deployment: a model can be fair across
sex groups yet not across speakers. :func:`evaluate_model` therefore reports, next to the overall
metrics (UAR / WA / macro-F1 for classes, CCC per target for A/D/V), the same metrics for every group
of any column (``sex``, ``speaker``, ``corpus``, ``intensity``, ...), the best-worst gap and the
spread (std) of the primary metric over the groups, and percentile bootstrap confidence intervals
for all of them (clips resampled with replacement; within each group for group figures, so group
sizes stay as designed).

Label mapping: the model's ``id2label`` names are matched with the dataset's ``ClassLabel`` names
(canonical names such as ``anger``, ``happiness``); evaluation runs over the names both share. Clips
of dataset classes the model does not know are dropped, and the model's extra classes are excluded
from its argmax; :attr:`EvaluationResult.label_alignment` says which names were dropped and how many
clips. This is what cross-corpus testing needs (EmoDB -> URDU over anger, happiness, neutral,
sadness).

Example:
    >>> from hf_ser.data import load_corpus  # doctest: +SKIP
    >>> from hf_ser.evaluation import evaluate_model  # doctest: +SKIP
    >>> result = evaluate_model(None, load_corpus("emodb", "../shared/data/emodb"))  # doctest: +SKIP
    >>> result.overall["uar"], result.fairness["speaker"]["gap"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from ..metrics.functions import ccc
from .bootstrap import (
    bootstrap_counts,
    confusion_counts,
    metrics_from_confusion,
    percentile_interval,
)
from .predictor import Predictions, as_predictor

__all__ = [
    "DEFAULT_GROUP_COLUMNS",
    "CLASSIFICATION_METRICS",
    "EvaluationResult",
    "LabelAlignment",
    "align_labels",
    "decode_audio_column",
    "evaluate_model",
    "score_predictions",
]

DEFAULT_GROUP_COLUMNS: tuple[str, ...] = ("sex", "speaker", "corpus", "intensity", "session")
"""Columns grouped by when present (``group_columns=None``)."""

CLASSIFICATION_METRICS: tuple[str, ...] = ("uar", "wa", "macro_f1", "weighted_f1")
UNKNOWN_GROUP = "unknown"


@dataclass
class LabelAlignment:
    """How the model's classes were matched with the dataset's.

    Args:
        labels (`list[str]`): the shared class names, in dataset order; metrics are over these.
        model_indices (`list[int]`): for each shared name, its score column in the model's output.
        dataset_indices (`list[int]`): for each shared name, its ``ClassLabel`` id in the dataset.
        dataset_only (`list[str]`): dataset classes unknown to the model (their clips are dropped).
        model_only (`list[str]`): model classes absent from the dataset (excluded from the argmax).
    """

    labels: list[str]
    model_indices: list[int]
    dataset_indices: list[int]
    dataset_only: list[str]
    model_only: list[str]


def _normalise(name: str) -> str:
    """Canonical emotion name for common spellings (``angry`` -> ``anger``), else the lower-cased name."""
    from hf_ser.data.corpora.base import canonical_emotion

    return canonical_emotion(str(name)) or str(name).strip().lower()


def align_labels(
    model_labels: Sequence[str], dataset_labels: Sequence[str], label_map: Optional[dict[str, str]] = None
) -> LabelAlignment:
    """Match model class names with dataset class names.

    Names are compared after mapping common spellings to the canonical emotion names
    (``"Angry"`` and ``"anger"`` match); ``label_map`` renames model names first.

    Raises:
        ValueError: when no class is shared (the message lists both sides).
    """
    label_map = {_normalise(k): _normalise(v) for k, v in (label_map or {}).items()}
    model_names = [label_map.get(_normalise(n), _normalise(n)) for n in model_labels]
    position = {name: i for i, name in enumerate(model_names)}
    shared = [(j, n) for j, n in enumerate(dataset_labels) if _normalise(n) in position]
    if not shared:
        raise ValueError(
            f"The model's classes {list(model_labels)} share no name with the dataset's "
            f"{list(dataset_labels)}; "
            "pass label_map={model_name: dataset_name} to match them."
        )
    shared_set = {_normalise(n) for _, n in shared}
    return LabelAlignment(
        labels=[n for _, n in shared],
        model_indices=[position[_normalise(n)] for _, n in shared],
        dataset_indices=[j for j, _ in shared],
        dataset_only=[n for n in dataset_labels if _normalise(n) not in position],
        model_only=[n for n, m in zip(model_labels, model_names, strict=True) if m not in shared_set],
    )


def decode_audio_column(
    dataset: Any, sampling_rate: int = 16000, audio_column: str = "audio"
) -> list[np.ndarray]:
    """Decode every clip of ``dataset[audio_column]`` to float32 mono at ``sampling_rate`` (soundfile + soxr).

    Reads the stored paths/bytes (casting a decoding ``Audio`` feature to ``decode=False``), so it
    never needs torchcodec.
    """
    from datasets import Audio

    if audio_column not in dataset.column_names:
        raise ValueError(f"The dataset has no {audio_column!r} column; columns: {dataset.column_names}.")
    from hf_ser.data import decode_example_audio

    feature = dataset.features.get(audio_column)
    if isinstance(feature, Audio) and feature.decode:
        dataset = dataset.cast_column(audio_column, Audio(decode=False))
    return [decode_example_audio(value, sampling_rate) for value in dataset.with_format(None)[audio_column]]


@dataclass
class EvaluationResult:
    """Everything :func:`evaluate_model` measured. ``to_dict()`` is the ``report.json`` layout.

    Args:
        task (`str`): ``"classification"``, ``"regression"`` or ``"multitask"``.
        num_samples (`int`): clips evaluated (after dropping classes the model does not know).
        primary_metric (`str`): the metric fairness figures use (``"uar"`` or ``"ccc_mean"``).
        overall (`dict[str, float]`): overall metrics.
        overall_ci (`dict[str, list[float]]`): their bootstrap intervals ``[low, high]``.
        groups (`dict[str, dict[str, dict]]`): per column, per group value: ``n``, the metrics and
            ``ci`` (interval of the primary metric).
        fairness (`dict[str, dict]`): per column with at least two groups: best/worst group, ``gap``
            (best - worst), ``std`` over groups (population std), and their intervals.
        label_alignment (`LabelAlignment`, *optional*): class matching; ``None`` for regression only.
        confusion_matrix (`np.ndarray`, *optional*): counts, rows = true class, over ``labels``.
        row_indices (`np.ndarray`): dataset rows evaluated, in order.
        y_true, y_pred (`np.ndarray`, *optional*): class indices into ``labels``.
        regression_true, regression_pred (`dict[str, np.ndarray]`): per target.
        out_of_set_share (`float`, *optional*): share of evaluated clips whose unrestricted top class
            was one the dataset does not have.
        bootstrap (`int`), confidence (`float`), seed (`int`): how the intervals were made.
    """

    task: str
    num_samples: int
    primary_metric: str
    overall: dict[str, float]
    overall_ci: dict[str, Optional[list[float]]]
    groups: dict[str, dict[str, dict]]
    fairness: dict[str, dict]
    label_alignment: Optional[LabelAlignment] = None
    confusion_matrix: Optional[np.ndarray] = None
    row_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    y_true: Optional[np.ndarray] = None
    y_pred: Optional[np.ndarray] = None
    regression_true: dict[str, np.ndarray] = field(default_factory=dict)
    regression_pred: dict[str, np.ndarray] = field(default_factory=dict)
    out_of_set_share: Optional[float] = None
    bootstrap: int = 0
    confidence: float = 0.95
    seed: int = 0

    @property
    def labels(self) -> list[str]:
        """The class names metrics are computed over (empty for regression only)."""
        return self.label_alignment.labels if self.label_alignment else []

    def to_dict(self) -> dict:
        """JSON-ready summary: ``overall``, ``by_<column>`` for each group column, ``fairness``, ..."""
        out: dict[str, Any] = {
            "task": self.task,
            "num_samples": self.num_samples,
            "primary_metric": self.primary_metric,
            "overall": {**self.overall, "ci": self.overall_ci},
        }
        if self.label_alignment is not None:
            out["labels"] = self.labels
            out["dropped_labels"] = {
                "dataset_only": self.label_alignment.dataset_only,
                "model_only": self.label_alignment.model_only,
            }
            out["out_of_set_share"] = self.out_of_set_share
        if self.confusion_matrix is not None:
            out["confusion_matrix"] = {
                "labels": self.labels,
                "counts": self.confusion_matrix.astype(int).tolist(),
            }
        for column, groups in self.groups.items():
            out[f"by_{column}"] = groups
        out["fairness"] = self.fairness
        out["bootstrap"] = {"replicates": self.bootstrap, "confidence": self.confidence, "seed": self.seed}
        return out


def _class_point_metrics(y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    from hf_ser.metrics import classification_metrics

    return {k: float(v) for k, v in classification_metrics(predictions=y_pred, references=y_true).items()}


def _subset_metrics(
    rows: np.ndarray,
    y_true: Optional[np.ndarray],
    y_pred: Optional[np.ndarray],
    reg_true: dict[str, np.ndarray],
    reg_pred: dict[str, np.ndarray],
) -> dict[str, float]:
    values: dict[str, float] = {}
    if y_true is not None:
        values.update(_class_point_metrics(y_pred[rows], y_true[rows]))
    if reg_true:
        for target in reg_true:
            values[f"ccc_{target}"] = float(
                ccc(predictions=reg_pred[target][rows], references=reg_true[target][rows])
            )
        values["ccc_mean"] = float(np.mean([values[f"ccc_{t}"] for t in reg_true]))
    return values


def _replicate_metrics(
    rows: np.ndarray,
    counts: np.ndarray,
    y_true: Optional[np.ndarray],
    y_pred: Optional[np.ndarray],
    num_classes: int,
    reg_true: dict[str, np.ndarray],
    reg_pred: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Metrics of every bootstrap replicate of the clips ``rows`` drawn with ``counts`` ``(R, len(rows))``."""
    values: dict[str, np.ndarray] = {}
    if y_true is not None:
        values.update(
            metrics_from_confusion(confusion_counts(y_pred[rows], y_true[rows], num_classes, counts))
        )
    if reg_true:
        per_target = [
            ccc(predictions=reg_pred[t][rows], references=reg_true[t][rows], sample_weight=counts)
            for t in reg_true
        ]
        values.update({f"ccc_{t}": v for t, v in zip(reg_true, per_target, strict=True)})
        values["ccc_mean"] = np.mean(per_target, axis=0)
    return values


def _group_values(dataset: Any, column: str, rows: np.ndarray) -> np.ndarray:
    raw = dataset.with_format(None)[column]
    return np.asarray([UNKNOWN_GROUP if raw[i] is None else str(raw[i]) for i in rows], dtype=object)


def _resolve_group_columns(dataset: Any, group_columns: Optional[Sequence[str]]) -> list[str]:
    if group_columns is None:
        return [c for c in DEFAULT_GROUP_COLUMNS if c in dataset.column_names]
    missing = [c for c in group_columns if c not in dataset.column_names]
    if missing:
        raise ValueError(f"Group columns {missing} are not in the dataset; columns: {dataset.column_names}.")
    return list(group_columns)


@dataclass
class _ClassTargets:
    """True and predicted classes of the clips that carry one of the shared classes."""

    alignment: LabelAlignment
    rows: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    out_of_set: float


@dataclass
class _Targets:
    """Everything the metrics are computed from, aligned on the scored clips (``rows`` of the dataset)."""

    y_true: Optional[np.ndarray]
    y_pred: Optional[np.ndarray]
    num_classes: int
    reg_true: dict[str, np.ndarray]
    reg_pred: dict[str, np.ndarray]

    def metrics(self, rows: np.ndarray) -> dict[str, float]:
        """Point metrics of the scored clips ``rows``."""
        return _subset_metrics(rows, self.y_true, self.y_pred, self.reg_true, self.reg_pred)

    def replicates(self, rows: np.ndarray, bootstrap: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of ``bootstrap`` resamples of the scored clips ``rows`` (draws from ``rng``)."""
        counts = bootstrap_counts(rows.size, bootstrap, rng)
        return _replicate_metrics(
            rows, counts, self.y_true, self.y_pred, self.num_classes, self.reg_true, self.reg_pred
        )


def _check_score_arguments(predictions: Predictions, dataset: Any, bootstrap: int, confidence: float) -> None:
    """Reject misaligned predictions and impossible bootstrap settings before any scoring."""
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for a dataset of {len(dataset)} rows.")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0 replicates, got {bootstrap}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")


def _class_targets(
    predictions: Predictions, dataset: Any, label_column: str, label_map: Optional[dict[str, str]]
) -> _ClassTargets:
    """Align model and dataset classes, keep the clips of shared classes and predict among those classes.

    The share of clips whose unrestricted argmax is a class the dataset lacks is kept as ``out_of_set``.
    """
    feature = dataset.features[label_column]
    if not hasattr(feature, "names"):
        raise ValueError(
            f"Column {label_column!r} must be a ClassLabel to evaluate classes; it is {feature}."
        )
    alignment = align_labels(predictions.labels, feature.names, label_map)
    to_shared = {d: s for s, d in enumerate(alignment.dataset_indices)}
    raw_true = np.asarray(dataset.with_format(None)[label_column])
    rows = np.asarray([i for i in range(len(dataset)) if raw_true[i] in to_shared], dtype=int)
    if rows.size == 0:
        raise ValueError(f"No clip of the dataset has one of the shared classes {alignment.labels}.")
    y_true = np.asarray([to_shared[raw_true[i]] for i in rows])
    y_pred = predictions.scores[rows][:, alignment.model_indices].argmax(axis=1)
    unrestricted = predictions.scores[rows].argmax(axis=1)
    out_of_set = float(np.mean(~np.isin(unrestricted, alignment.model_indices)))
    return _ClassTargets(alignment, rows, y_true, y_pred, out_of_set)


def _check_something_to_score(
    predictions: Predictions, dataset: Any, label_column: str, classify: bool, targets: list[str]
) -> None:
    """Fail when the dataset has neither the class column nor any predicted regression target."""
    if not classify and not targets:
        raise ValueError(
            f"Nothing to evaluate: the model predicts classes {predictions.labels} and targets "
            f"{list(predictions.regression)}, the dataset has columns {dataset.column_names} "
            f"(label_column={label_column!r})."
        )


def _regression_targets(
    predictions: Predictions, dataset: Any, targets: list[str], rows: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """True and predicted values of each regression target on the scored clips ``rows``."""
    columns = dataset.with_format(None).select_columns(targets) if targets else None
    reg_true = {t: np.asarray(columns[t], dtype=np.float64)[rows] for t in targets}
    reg_pred = {t: predictions.regression[t][rows] for t in targets}
    return reg_true, reg_pred


def _task_name(classify: bool, has_targets: bool) -> str:
    """``"multitask"``, ``"classification"`` or ``"regression"`` from what can be scored."""
    if classify and has_targets:
        return "multitask"
    return "classification" if classify else "regression"


def _group_entries(
    values: np.ndarray,
    names: list[str],
    targets: _Targets,
    primary: str,
    bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
) -> tuple[dict[str, dict], list[np.ndarray]]:
    """Size and metrics of each group (with the primary metric's interval), plus its bootstrap replicates."""
    per_group: dict[str, dict] = {}
    replicate_primary = []
    for name in names:
        members = np.flatnonzero(values == name)
        entry: dict[str, Any] = {"n": int(members.size), **targets.metrics(members)}
        if bootstrap:
            group_reps = targets.replicates(members, bootstrap, rng)
            entry["ci"] = {primary: percentile_interval(group_reps[primary], confidence)}
            replicate_primary.append(group_reps[primary])
        per_group[name] = entry
    return per_group, replicate_primary


def _fairness_summary(
    names: list[str],
    per_group: dict[str, dict],
    replicate_primary: list[np.ndarray],
    primary: str,
    confidence: float,
) -> dict[str, Any]:
    """Best and worst group, their gap and the spread of the primary metric (with bootstrap intervals)."""
    scores = np.asarray([per_group[n][primary] for n in names])
    best, worst = int(np.argmax(scores)), int(np.argmin(scores))
    summary: dict[str, Any] = {
        "metric": primary,
        "num_groups": len(names),
        "best_group": names[best],
        "best": float(scores[best]),
        "worst_group": names[worst],
        "worst": float(scores[worst]),
        "gap": float(scores[best] - scores[worst]),
        "std": float(np.std(scores)),
    }
    if replicate_primary:
        stacked = np.stack(replicate_primary, axis=1)  # (R, groups)
        summary["gap_ci"] = percentile_interval(stacked.max(axis=1) - stacked.min(axis=1), confidence)
        summary["std_ci"] = percentile_interval(stacked.std(axis=1), confidence)
    return summary


def score_predictions(
    predictions: Predictions,
    dataset: Any,
    *,
    label_column: str = "label",
    group_columns: Optional[Sequence[str]] = None,
    label_map: Optional[dict[str, str]] = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> EvaluationResult:
    """Score ``predictions`` aligned with ``dataset``'s rows: :func:`evaluate_model` after inference.

    Args: as :func:`evaluate_model`.
    """
    _check_score_arguments(predictions, dataset, bootstrap, confidence)
    rows = np.arange(len(dataset))
    classes: Optional[_ClassTargets] = None
    classify = predictions.scores is not None and label_column in dataset.column_names
    if classify:
        classes = _class_targets(predictions, dataset, label_column, label_map)
        rows = classes.rows
    names_of_targets = [t for t in predictions.regression if t in dataset.column_names]
    _check_something_to_score(predictions, dataset, label_column, classify, names_of_targets)
    reg_true, reg_pred = _regression_targets(predictions, dataset, names_of_targets, rows)
    targets = _Targets(
        y_true=classes.y_true if classes else None,
        y_pred=classes.y_pred if classes else None,
        num_classes=len(classes.alignment.labels) if classes else 0,
        reg_true=reg_true,
        reg_pred=reg_pred,
    )
    primary = "uar" if classify else "ccc_mean"

    local = np.arange(rows.size)
    overall = targets.metrics(local)
    rng = np.random.default_rng(seed)
    overall_ci: dict[str, Optional[list[float]]] = {}
    if bootstrap:
        replicates = targets.replicates(local, bootstrap, rng)
        overall_ci = {name: percentile_interval(v, confidence) for name, v in replicates.items()}

    groups: dict[str, dict[str, dict]] = {}
    fairness: dict[str, dict] = {}
    for column in _resolve_group_columns(dataset, group_columns):
        values = _group_values(dataset, column, rows)
        names = sorted(set(values.tolist()))
        groups[column], replicate_primary = _group_entries(
            values, names, targets, primary, bootstrap, confidence, rng
        )
        if len(names) >= 2:  # one group: nothing to compare
            fairness[column] = _fairness_summary(
                names, groups[column], replicate_primary, primary, confidence
            )

    confusion = None
    if classes is not None:
        from hf_ser.metrics import confusion_matrix

        confusion = np.asarray(
            confusion_matrix(
                predictions=classes.y_pred, references=classes.y_true, num_labels=targets.num_classes
            )
        )
    return EvaluationResult(
        task=_task_name(classify, bool(names_of_targets)),
        num_samples=int(rows.size),
        primary_metric=primary,
        overall=overall,
        overall_ci=overall_ci,
        groups=groups,
        fairness=fairness,
        label_alignment=classes.alignment if classes else None,
        confusion_matrix=confusion,
        row_indices=rows,
        y_true=targets.y_true,
        y_pred=targets.y_pred,
        regression_true=reg_true,
        regression_pred=reg_pred,
        out_of_set_share=classes.out_of_set if classes else None,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )


def evaluate_model(
    model_or_pipeline: Any,
    dataset: Any,
    *,
    label_column: str = "label",
    group_columns: Optional[Sequence[str]] = None,
    label_map: Optional[dict[str, str]] = None,
    feature_extractor: Any = None,
    batch_size: int = 16,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    sampling_rate: int = 16000,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate a model on a labelled dataset: overall and per-group metrics, fairness, bootstrap intervals.

    Args:
        model_or_pipeline: ``None`` (the built-in default model), a checkpoint path, a model of the
            hf_ser family (with ``feature_extractor``), an ``hf_ser.pipeline(...)`` object, or any
            callable with the pipeline's contract (see :mod:`hf_ser.evaluation.predictor`).
        dataset (`datasets.Dataset`): with an ``audio`` column, ``label_column`` (``ClassLabel``)
            and/or regression target columns named like the model's targets (``arousal``, ...).
        label_column (`str`, *optional*, defaults to ``"label"``): the class column.
        group_columns (`Sequence[str]`, *optional*): columns to break results down by; default: those
            of :data:`DEFAULT_GROUP_COLUMNS` the dataset has. An explicit column must exist.
        label_map (`dict[str, str]`, *optional*): renames model class names to dataset names.
        feature_extractor: the feature extractor of a model object.
        batch_size (`int`, *optional*, defaults to 16): clips per pipeline call.
        bootstrap (`int`, *optional*, defaults to 1000): bootstrap replicates (0 = no intervals).
        confidence (`float`, *optional*, defaults to 0.95): interval coverage.
        seed (`int`, *optional*, defaults to 0): bootstrap seed.
        sampling_rate (`int`, *optional*, defaults to 16000): rate the audio is decoded at.
        progress (`bool`, *optional*, defaults to `True`): show a progress bar.

    Returns:
        :class:`EvaluationResult`.
    """
    predictor = as_predictor(model_or_pipeline, feature_extractor=feature_extractor, batch_size=batch_size)
    arrays = decode_audio_column(dataset, sampling_rate)
    predictions = predictor.predict(arrays, sampling_rate, progress="evaluate" if progress else None)
    return score_predictions(
        predictions,
        dataset,
        label_column=label_column,
        group_columns=group_columns,
        label_map=label_map,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )

"""Cross-corpus evaluation: train on corpus A, test on corpus B, over the classes they share.

In-corpus scores overstate what a model does on new speakers, languages and recording conditions
(paper 001 tests IEMOCAP -> MOSI; EmoDB is acted German, URDU spontaneous Urdu). This module builds
the full matrix: row = training corpus, column = test corpus, cell = the test metric (UAR by
default) over the canonical label set shared by all the corpora in the matrix (EmoDB and URDU:
anger, happiness, neutral, sadness). Diagonal cells are speaker independent: the corpus is split
with :func:`hf_ser.data.speaker_folds`, one model per fold, and the pooled out-of-fold predictions
are scored, so no cell ever tests on a speaker seen in training.

Training is a callable ``train_fn(train_dataset) -> model_or_pipeline`` (the dataset has the shared
``ClassLabel``), so any recipe fits.

Example:
    >>> from hf_ser.evaluation import cross_corpus_matrix  # doctest: +SKIP
    >>> result = cross_corpus_matrix({"emodb": emodb, "urdu": urdu}, train_fn)  # doctest: +SKIP
    >>> result.matrix  # rows: trained on emodb, urdu; columns: tested on emodb, urdu  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from tqdm.auto import tqdm

from .evaluate import CLASSIFICATION_METRICS, decode_audio_column, score_predictions
from .predictor import Predictions, as_predictor

__all__ = [
    "CrossCorpusResult",
    "cross_corpus_matrix",
    "restrict_to_labels",
    "shared_labels",
]


def shared_labels(datasets: Sequence[Any], label_column: str = "label") -> list[str]:
    """Class names every dataset has, in the order of the first dataset's ``ClassLabel``.

    Raises:
        ValueError: when fewer than two classes are shared.
    """
    names = [list(d.features[label_column].names) for d in datasets]
    # A name counts only when at least one clip carries it.
    present = []
    for dataset, dataset_names in zip(datasets, names, strict=True):
        ids = set(dataset.with_format(None)[label_column])
        present.append({dataset_names[i] for i in ids})
    shared = [n for n in names[0] if all(n in p for p in present)]
    if len(shared) < 2:
        raise ValueError(f"The datasets share fewer than two classes ({shared}); their classes: {names}.")
    return shared


def restrict_to_labels(dataset: Any, labels: Sequence[str], label_column: str = "label") -> Any:
    """Keep the clips of ``labels`` and re-encode ``label_column`` as ``ClassLabel(names=labels)``."""
    from datasets import ClassLabel

    old = dataset.features[label_column].names
    unknown = [n for n in labels if n not in old]
    if unknown:
        raise ValueError(f"Labels {unknown} are not classes of the dataset; its classes: {old}.")
    new_id = {old.index(n): i for i, n in enumerate(labels)}
    keep = [i for i, value in enumerate(dataset.with_format(None)[label_column]) if value in new_id]
    subset = dataset.select(keep)
    features = subset.features.copy()
    features[label_column] = ClassLabel(names=list(labels))
    return subset.map(
        lambda value: {label_column: new_id[value]},
        input_columns=[label_column],
        features=features,
        desc="restrict labels",
    )


def _reorder(predictions: Predictions, labels: Sequence[str]) -> np.ndarray:
    """Score columns of ``predictions`` in the order of ``labels`` (the model was trained on them)."""
    position = {n.lower(): i for i, n in enumerate(predictions.labels)}
    missing = [n for n in labels if n.lower() not in position]
    if missing:
        raise ValueError(f"A cross-corpus model lacks classes {missing}; it predicts {predictions.labels}.")
    return predictions.scores[:, [position[n.lower()] for n in labels]]


@dataclass
class CrossCorpusResult:
    """Train-on-row / test-on-column matrix.

    Args:
        corpora (`list[str]`): row and column names.
        labels (`list[str]`): the shared classes every cell is scored over.
        metric (`str`): the metric in :attr:`matrix`.
        matrix (`np.ndarray` of shape `(len(corpora), len(corpora))`): the metric per cell (NaN on the
            diagonal when in-corpus folds were disabled).
        cells (`dict[str, dict]`): per ``"train->test"`` key, all overall metrics, intervals and ``n``.
        in_corpus_folds (`int`, *optional*): speaker folds used for the diagonal.
    """

    corpora: list[str]
    labels: list[str]
    metric: str
    matrix: np.ndarray
    cells: dict[str, dict] = field(default_factory=dict)
    in_corpus_folds: Optional[int] = None

    @classmethod
    def from_dict(cls, data: dict) -> CrossCorpusResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a saved ``report.json`` section)."""
        matrix = np.asarray(
            [[np.nan if v is None else v for v in row] for row in data["matrix"]], dtype=float
        )
        return cls(
            corpora=list(data["corpora"]), labels=list(data["labels"]), metric=data["metric"], matrix=matrix,
            cells=dict(data["cells"]), in_corpus_folds=data["in_corpus_folds"],
        )  # fmt: skip

    def to_dict(self) -> dict:
        """JSON-ready; ``matrix`` rows are training corpora (``null`` for a skipped cell)."""
        return {
            "corpora": self.corpora,
            "labels": self.labels,
            "metric": self.metric,
            "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in self.matrix],
            "cells": self.cells,
            "in_corpus_folds": self.in_corpus_folds,
            "rows": "train",
            "columns": "test",
        }


def cross_corpus_matrix(
    corpora: dict[str, Any],
    train_fn: Callable[[Any], Any],
    *,
    label_column: str = "label",
    metric: str = "uar",
    in_corpus_folds: Optional[int] = 5,
    bootstrap: int = 0,
    batch_size: int = 16,
    sampling_rate: int = 16000,
    seed: int = 0,
    progress: bool = True,
) -> CrossCorpusResult:
    """Train on each corpus, test on every corpus, over the shared classes.

    Args:
        corpora (`dict[str, datasets.Dataset]`): at least two named corpora with ``label_column``,
            ``audio`` and (for the diagonal) ``speaker``.
        train_fn (`Callable`): ``train_fn(train_dataset) -> model_or_pipeline`` (anything
            :func:`~hf_ser.evaluation.evaluate_model` accepts); must predict the shared classes.
        label_column (`str`, *optional*, defaults to ``"label"``): the class column.
        metric (`str`, *optional*, defaults to ``"uar"``): the metric placed in the matrix
            (one of :data:`~hf_ser.evaluation.evaluate.CLASSIFICATION_METRICS`).
        in_corpus_folds (`int`, *optional*, defaults to 5): speaker-disjoint folds for the diagonal
            (see :func:`hf_ser.data.speaker_folds`); ``None`` leaves the diagonal empty.
        bootstrap (`int`, *optional*, defaults to 0): bootstrap replicates for the cells' intervals.
        seed (`int`, *optional*, defaults to 0): fold and bootstrap seed.
    """
    if len(corpora) < 2:
        raise ValueError(f"Cross-corpus evaluation needs at least two corpora, got {list(corpora)}.")
    if metric not in CLASSIFICATION_METRICS:
        raise ValueError(f"metric must be one of {', '.join(CLASSIFICATION_METRICS)}; got {metric!r}.")
    names = list(corpora)
    labels = shared_labels([corpora[n] for n in names], label_column)
    restricted = {n: restrict_to_labels(corpora[n], labels, label_column) for n in names}
    arrays = {n: decode_audio_column(restricted[n], sampling_rate) for n in names}
    matrix = np.full((len(names), len(names)), np.nan)
    cells: dict[str, dict] = {}

    def score(test: str, scores: np.ndarray, key: str) -> float:
        scored = score_predictions(
            Predictions(labels=list(labels), scores=scores),
            restricted[test],
            label_column=label_column,
            group_columns=[],
            bootstrap=bootstrap,
            seed=seed,
        )
        cells[key] = {"n": scored.num_samples, **scored.overall, "ci": scored.overall_ci}
        return scored.overall[metric]

    steps = tqdm(
        total=len(names) * (len(names) - 1) + (len(names) if in_corpus_folds else 0),
        desc="cross-corpus",
        disable=not progress,
    )
    for i, train in enumerate(names):
        predictor = as_predictor(train_fn(restricted[train]), batch_size=batch_size)
        for j, test in enumerate(names):
            if i == j:
                continue
            scores = _reorder(predictor.predict(arrays[test], sampling_rate), labels)
            matrix[i, j] = score(test, scores, f"{train}->{test}")
            steps.update()
        if in_corpus_folds:
            from hf_ser.data import speaker_folds

            dataset = restricted[train]
            scores = np.zeros((len(dataset), len(labels)))
            for train_rows, test_rows in speaker_folds(dataset, n_folds=in_corpus_folds, seed=seed):
                fold_predictor = as_predictor(train_fn(dataset.select(train_rows)), batch_size=batch_size)
                fold = fold_predictor.predict([arrays[train][k] for k in test_rows], sampling_rate)
                scores[np.asarray(test_rows)] = _reorder(fold, labels)
            matrix[i, i] = score(train, scores, f"{train}->{train}")
            steps.update()
    steps.close()
    return CrossCorpusResult(
        corpora=names,
        labels=labels,
        metric=metric,
        matrix=matrix,
        cells=cells,
        in_corpus_folds=in_corpus_folds,
    )

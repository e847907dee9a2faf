"""Speaker-independent evaluation protocols: leave-one-group-out, k group-disjoint folds, official splits.

SER results are only meaningful when no speaker (or IEMOCAP session) appears in both training and
test data. :func:`speaker_folds` returns index pairs that guarantee it; the k-fold variant balances
folds in size and label distribution by greedy assignment of whole groups.
"""

from __future__ import annotations

from typing import Optional

import datasets
import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def _column(dataset, name: str) -> list:
    if isinstance(dataset, datasets.Dataset):
        if name not in dataset.column_names:
            raise ValueError(f"Column {name!r} not in dataset columns {dataset.column_names}.")
        # Read without any transform (e.g. lazy audio decoding) attached to the dataset.
        return list(dataset.with_format(None)[name])
    if name not in dataset:
        raise ValueError(f"Column {name!r} not in {sorted(dataset)}.")
    return list(dataset[name])


def _greedy_assign(
    groups: list, histograms: np.ndarray, n_folds: int, stratify: bool, seed: int
) -> np.ndarray:
    """Assign groups to folds, largest first, each to the fold whose totals it moves closest to target."""
    rng = np.random.default_rng(seed)
    sizes = histograms.sum(axis=1)
    # Largest groups first; random tie-breaking so the seed changes equal-size placements.
    order = np.lexsort((rng.permutation(len(groups)), -sizes))
    target_hist = histograms.sum(axis=0) / n_folds
    target_size = sizes.sum() / n_folds
    fold_hist = np.zeros((n_folds, histograms.shape[1]))
    fold_size = np.zeros(n_folds)
    assignment = np.empty(len(groups), dtype=np.int64)
    n_classes = histograms.shape[1]

    def cost(size: float, hist: np.ndarray) -> float:
        # Size counts as much as the whole label histogram, so label balance never starves a fold.
        value = n_classes * (size / target_size - 1.0) ** 2
        if stratify:
            value += float(np.sum(((hist - target_hist) / np.maximum(target_hist, 1.0)) ** 2))
        return value

    for group in order:
        costs = []
        for fold in range(n_folds):
            before = cost(fold_size[fold], fold_hist[fold])
            after = cost(fold_size[fold] + sizes[group], fold_hist[fold] + histograms[group])
            # Empty folds first so every fold receives a group; then the smallest increase in imbalance.
            costs.append((fold_size[fold] > 0, after - before, rng.random()))
        best = min(range(n_folds), key=lambda fold: costs[fold])
        assignment[group] = best
        fold_hist[best] += histograms[group]
        fold_size[best] += sizes[group]
    return assignment


def speaker_folds(
    dataset,
    n_folds: Optional[int] = None,
    group: str = "speaker",
    stratify: bool = True,
    seed: int = 0,
    label_column: str = "label",
) -> list[Fold]:
    """Group-disjoint ``(train_indices, test_indices)`` pairs (no group on both sides).

    Args:
        dataset (`datasets.Dataset` or mapping of columns): needs ``group`` (and ``label_column`` when
            stratifying) columns.
        n_folds (`int`, *optional*): ``None`` = leave-one-group-out (one fold per group, in sorted group
            order); otherwise ``n_folds`` folds of whole groups balanced in size and, with ``stratify``,
            in label histogram.
        group (`str`, *optional*, defaults to `"speaker"`): grouping column, e.g. ``"session"`` for
            IEMOCAP leave-one-session-out.
        stratify (`bool`, *optional*, defaults to `True`): balance labels across folds.
        seed (`int`, *optional*, defaults to 0): tie-breaking seed for the k-fold assignment.
        label_column (`str`, *optional*, defaults to `"label"`).

    Returns:
        `list` of ``(train_indices, test_indices)`` sorted `np.ndarray` pairs; test sets partition the rows.

    Example:

    ```python
    >>> from hf_ser.data import speaker_folds
    >>> data = {"speaker": ["a", "a", "b", "c", "c", "d"], "label": [0, 1, 0, 1, 0, 1]}
    >>> [test.tolist() for _, test in speaker_folds(data)]
    [[0, 1], [2], [3, 4], [5]]
    >>> [len(test) for _, test in speaker_folds(data, n_folds=2)]
    [3, 3]

    ```
    """
    groups = _column(dataset, group)
    missing = sum(value is None for value in groups)
    if missing:
        raise ValueError(
            f"{missing} row(s) have no {group!r}; speaker-independent folds need every row grouped."
        )
    keys = np.asarray([str(value) for value in groups])
    unique = sorted(set(keys.tolist()))
    if n_folds is None:
        assignment = np.arange(len(unique))
        n_folds = len(unique)
    else:
        if not isinstance(n_folds, (int, np.integer)) or not 2 <= n_folds <= len(unique):
            raise ValueError(
                f"n_folds={n_folds!r} must be an integer between 2 and the number of groups ({len(unique)})."
            )
        labels = (
            np.asarray(_column(dataset, label_column)) if stratify else np.zeros(len(keys), dtype=np.int64)
        )
        label_values, label_index = np.unique(labels, return_inverse=True)
        group_index = {key: i for i, key in enumerate(unique)}
        histograms = np.zeros((len(unique), len(label_values)))
        np.add.at(histograms, (np.asarray([group_index[k] for k in keys]), label_index), 1)
        assignment = _greedy_assign(unique, histograms, int(n_folds), stratify, seed)
    fold_of_group = dict(zip(unique, assignment.tolist(), strict=True))
    row_fold = np.asarray([fold_of_group[key] for key in keys])
    rows = np.arange(len(keys))
    return [(rows[row_fold != fold], rows[row_fold == fold]) for fold in range(n_folds)]


MSP_PODCAST_SPLIT_NAMES = {"train": "train", "development": "validation", "test1": "test1", "test2": "test2",
                           "test3": "test3"}  # fmt: skip


def official_splits(dataset: datasets.Dataset, column: str = "split") -> datasets.DatasetDict:
    """Split a corpus with an official partition (MSP-Podcast ``Split_Set``) into a `DatasetDict`.

    Names are lower-cased and ``Development`` becomes ``validation``: ``train``, ``validation``,
    ``test1``, ``test2`` (and any other value, lower-cased).
    """
    values = _column(dataset, column)
    names = [MSP_PODCAST_SPLIT_NAMES.get(str(v).strip().lower(), str(v).strip().lower()) for v in values]
    indices: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        indices.setdefault(name, []).append(row)
    return datasets.DatasetDict({name: dataset.select(rows) for name, rows in indices.items()})


__all__ = ["official_splits", "speaker_folds"]

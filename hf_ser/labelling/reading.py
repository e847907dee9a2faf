"""Read labelled shards back: one averaged target per clip, keyed by the clip's file path.

What distillation from stored labels needs (``recipes/distill.py --teacher_labels DIR``): the class
probabilities and A/D/V values a teacher wrote with ``hf-ser label``, without the teacher. Clips labelled
in windows (``chunk_length_s``) are averaged over their windows, weighted by duration (as the pipeline
does); rows with an ``error`` are left out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .table import SCORE_PREFIX
from .writing import data_files

FIXED_COLUMNS = ("id", "path", "window", "start", "end", "label", "embedding", "error")


@dataclass
class StoredLabels:
    """Per-clip targets read from an output directory of ``hf-ser label``.

    Args:
        classes (`list[str]`): class names, in the model's id order (the ``score_<class>`` columns).
        targets (`list[str]`): regression targets (e.g. arousal, dominance, valence), maybe empty.
        paths (`list[str]`): each clip's file path, resolved (``os.path.realpath``).
        probabilities (`np.ndarray` of shape `(clips, classes)`, *optional*): class probabilities.
        regression (`np.ndarray` of shape `(clips, targets)`, *optional*): regression values.
    """

    classes: list[str]
    targets: list[str]
    paths: list[str]
    probabilities: Optional[np.ndarray]
    regression: Optional[np.ndarray]

    @property
    def task(self) -> str:
        """``"classification"``, ``"regression"`` or ``"multitask"``, as an hf_ser config's ``task``."""
        if self.classes and self.targets:
            return "multitask"
        return "classification" if self.classes else "regression"

    def rows_for(self, paths: list[str]) -> np.ndarray:
        """The row of each of ``paths`` (matched on the resolved path, else on a unique file name)."""
        exact = {path: index for index, path in enumerate(self.paths)}
        names: dict[str, list[int]] = {}
        for index, path in enumerate(self.paths):
            names.setdefault(os.path.basename(path), []).append(index)
        rows, missing = [], []
        for path in paths:
            index = exact.get(os.path.realpath(path))
            if index is None and len(names.get(os.path.basename(path), [])) == 1:
                index = names[os.path.basename(path)][0]
            rows.append(-1 if index is None else index)
            if index is None:
                missing.append(path)
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(paths)} clips have no stored label (e.g. {missing[:3]}); label them "
                "with `hf-ser label` first (rows with an error do not count)."
            )
        return np.asarray(rows, dtype=np.int64)


def weighted_mean(values: np.ndarray, groups: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """Per-group weighted mean of the rows of ``values`` (``groups`` numbers the groups 0..count-1)."""
    total = np.zeros((count, values.shape[1]))
    np.add.at(total, groups, values * weights[:, None])
    weight = np.zeros(count)
    np.add.at(weight, groups, weights)
    return (total / np.maximum(weight, 1e-12)[:, None]).astype(np.float32)


def read_stored_labels(directory: Union[str, os.PathLike]) -> StoredLabels:
    """Read every shard of ``directory``; one target per clip path (windows averaged, errors dropped)."""
    pattern = data_files(Path(directory))
    files = sorted(Path(directory).glob("shard-*.parquet"))
    if not files:
        raise FileNotFoundError(
            f"No labelled shards ({pattern}) found; run `hf-ser label ... --out {directory}`."
        )
    table = pq.ParquetDataset([str(path) for path in files]).read()
    table = table.filter(pc.is_null(table["error"]))
    names = table.column_names
    classes = [name[len(SCORE_PREFIX) :] for name in names if name.startswith(SCORE_PREFIX)]
    targets = [name for name in names if name not in FIXED_COLUMNS and not name.startswith(SCORE_PREFIX)]
    resolved = [os.path.realpath(path) for path in table["path"].to_pylist()]
    paths = sorted(set(resolved))
    groups = np.searchsorted(np.asarray(paths), np.asarray(resolved))
    weights = np.maximum(np.asarray(table["end"]) - np.asarray(table["start"]), 1e-6)

    def averaged(columns: list[str]) -> Optional[np.ndarray]:
        if not columns:
            return None
        values = np.stack([np.asarray(table[name], dtype=np.float64) for name in columns], axis=1)
        return weighted_mean(values, groups, weights, len(paths))

    return StoredLabels(
        classes, targets, paths, averaged([SCORE_PREFIX + name for name in classes]), averaged(targets)
    )


__all__ = ["StoredLabels", "read_stored_labels"]

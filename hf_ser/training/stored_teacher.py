"""A teacher that is only its stored outputs: distillation from ``hf-ser label`` shards.

``teacher_labels: DIR`` (``recipes/distill.py --teacher_labels DIR``) trains the student on the class
probabilities and A/D/V values a teacher wrote with ``hf-ser label`` (possibly on another machine, with
many processes), joined to the training clips by file path. No teacher model is loaded. The stored
probabilities become logits as ``log(p)`` (``softmax(log p) = p``), so the distillation temperature
applies as with a live teacher.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import numpy as np

from ..labelling.reading import StoredLabels, read_stored_labels
from .trainer_distillation import TeacherTargets

MIN_PROBABILITY = 1e-12
"""Floor of stored probabilities before the log (a probability of exactly 0 would give -inf)."""


def audio_paths(dataset: Any, audio_column: str = "audio") -> list[str]:
    """The file path of every row of an undecoded `datasets.Dataset` audio column."""
    values = dataset.with_format(None)[audio_column]
    paths = [value.get("path") if isinstance(value, dict) else value for value in values]
    if any(not path for path in paths):
        raise ValueError("Stored teacher labels are joined on file paths, but some clips have no path.")
    return [os.fspath(path) for path in paths]


@dataclass
class StoredTeacher:
    """Stands in for :class:`~.distill.Teacher` when the teacher's outputs were stored by ``hf-ser label``."""

    directory: Path
    labels: StoredLabels

    @classmethod
    def from_directory(cls, directory: os.PathLike | str) -> StoredTeacher:
        """Read the shards of ``directory`` (raises when there are none)."""
        return cls(Path(directory), read_stored_labels(directory))

    @property
    def config(self) -> Any:
        """What :func:`~.trainer_distillation.check_teacher_student` reads of a teacher config."""
        return SimpleNamespace(
            task=self.labels.task,
            id2label=dict(enumerate(self.labels.classes)),
            regression_targets=list(self.labels.targets),
            model_type="stored labels",
        )

    def label(
        self, audio: Any, batch_size: int = 0, cache_dir: Optional[Path] = None, name: str = "train"
    ) -> TeacherTargets:
        """The stored targets of ``audio``'s clips, in row order (same signature as ``Teacher.label``)."""
        rows = self.labels.rows_for(audio_paths(audio))
        probabilities = self.labels.probabilities
        logits = None
        if probabilities is not None:
            logits = np.log(np.maximum(probabilities[rows], MIN_PROBABILITY)).astype(np.float32)
        regression = None if self.labels.regression is None else self.labels.regression[rows]
        return TeacherTargets(logits=logits, regression=regression)

    def to(self, device: Any) -> StoredTeacher:
        """Nothing to move: there is no model."""
        return self


__all__ = ["StoredTeacher"]

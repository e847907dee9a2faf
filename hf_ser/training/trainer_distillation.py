"""Knowledge distillation: a teacher (any hf_ser model) labels audio, a student learns its soft targets.

Wav2Small (Kounadis-Bastian et al., 2024) trains a 72k-parameter student only on a wav2vec2 teacher's
arousal/dominance/valence outputs. This module provides the pieces a recipe needs:

- :func:`label_with_teacher`: run the teacher once over clips or a dataset and keep its outputs
  (:class:`TeacherTargets`: class logits and/or regression values), optionally cached in an ``.npz``
  file that is reused while the teacher and the audio are unchanged. :func:`teacher_targets` does the
  same for one batch (on-the-fly labelling).
- :func:`add_teacher_columns` + :class:`DistillationCollator`: carry the targets through a
  `datasets.Dataset` and `SERDataCollator` as ``teacher_logits`` / ``teacher_regression`` tensors.
- :class:`DistillationLoss`: ``T^2 * KL(softmax(teacher / T) || softmax(student / T))`` for classes, MSE
  or CCC for A/D/V, optionally mixed with the ground-truth loss: ``alpha * teacher + (1 - alpha) * truth``.
- :class:`DistillationTrainer`: `SERTrainer` whose loss is the distillation loss whenever the batch has
  teacher targets (evaluation batches without them use the model's ground-truth loss).

Example (a tiny loop; recipes use :class:`DistillationTrainer`):

```python
>>> import numpy as np, torch
>>> from hf_ser import Wav2SmallConfig, Wav2SmallForAudioClassification
>>> from hf_ser.training.trainer_distillation import DistillationLoss, label_with_teacher
>>> teacher = Wav2SmallForAudioClassification(Wav2SmallConfig()).eval()  # any hf_ser model
>>> student = Wav2SmallForAudioClassification(Wav2SmallConfig(conv_channels=[8, 8, 8, 8]))
>>> from transformers import Wav2Vec2FeatureExtractor
>>> extractor = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
>>> clips = [np.random.randn(16000).astype(np.float32) for _ in range(4)]
>>> targets = label_with_teacher(teacher, extractor, clips)
>>> inputs = extractor(clips, sampling_rate=16000, padding=True, return_tensors="pt")
>>> loss = DistillationLoss(regression_loss="mse")(student(**inputs),
...                                                teacher_regression=torch.from_numpy(targets.regression))
>>> loss.ndim
0

```
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from tqdm.auto import tqdm

from ..data.audio import decode_example_audio
from ..models.losses import REGRESSION_LOSSES, regression_loss
from ..models.outputs import SERModelOutput
from .trainer import SERTrainer

logger = logging.getLogger(__name__)

TEACHER_COLUMNS = ("teacher_logits", "teacher_regression")


@dataclass
class TeacherTargets:
    """Teacher outputs for ``N`` clips, in clip order.

    Args:
        logits (`np.ndarray` of shape `(N, num_labels)`, *optional*): class logits (classification and
            multitask teachers).
        regression (`np.ndarray` of shape `(N, targets)`, *optional*): regression values (regression and
            multitask teachers).
    """

    logits: Optional[np.ndarray] = None
    regression: Optional[np.ndarray] = None

    def __len__(self) -> int:
        present = self.logits if self.logits is not None else self.regression
        return 0 if present is None else int(present.shape[0])

    @classmethod
    def concatenate(cls, parts: Sequence[TeacherTargets]) -> TeacherTargets:
        def stack(name: str) -> Optional[np.ndarray]:
            values = [getattr(part, name) for part in parts]
            return None if not values or values[0] is None else np.concatenate(values).astype(np.float32)

        return cls(logits=stack("logits"), regression=stack("regression"))

    def save(self, path: Union[str, os.PathLike], fingerprint: str = "") -> None:
        """Write an ``.npz`` file (no pickles) with the arrays and a fingerprint of what produced them."""
        arrays = {
            name: value
            for name, value in (("logits", self.logits), ("regression", self.regression))
            if value is not None
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, fingerprint=np.array(fingerprint), **arrays)

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> tuple[TeacherTargets, str]:
        """Read a file written by :meth:`save`; returns the targets and their fingerprint."""
        with np.load(path, allow_pickle=False) as data:
            targets = cls(
                logits=data["logits"] if "logits" in data else None,
                regression=data["regression"] if "regression" in data else None,
            )
            return targets, str(data["fingerprint"])


def check_teacher_student(teacher_config: Any, student_config: Any) -> None:
    """Raise a ValueError when the teacher's outputs cannot supervise the student's heads."""
    teacher_classes = teacher_config.task != "regression"
    student_classes = student_config.task != "regression"
    if teacher_classes and student_classes and dict(teacher_config.id2label) != dict(student_config.id2label):
        raise ValueError(
            f"Teacher classes {teacher_config.id2label} differ from student classes "
            f"{student_config.id2label}; build the student with the teacher's id2label."
        )
    teacher_values = teacher_config.task != "classification"
    student_values = student_config.task != "classification"
    if (
        teacher_values
        and student_values
        and list(teacher_config.regression_targets) != list(student_config.regression_targets)
    ):
        raise ValueError(
            f"Teacher regression targets {teacher_config.regression_targets} differ from the student's "
            f"{student_config.regression_targets}."
        )
    if not (teacher_classes and student_classes) and not (teacher_values and student_values):
        raise ValueError(
            f"A task={teacher_config.task!r} teacher cannot supervise a task={student_config.task!r} "
            "student: they share no output."
        )


@torch.no_grad()
def teacher_targets(
    teacher: Any, feature_extractor: Any, clips: Sequence[np.ndarray], sampling_rate: int = 16000
) -> TeacherTargets:
    """Teacher outputs for one batch of 1-D float32 clips (on-the-fly labelling)."""
    inputs = feature_extractor(
        list(clips),
        sampling_rate=sampling_rate,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    device = next(teacher.parameters()).device
    output = teacher(**{key: value.to(device) for key, value in inputs.items()})
    task = teacher.config.task
    logits = output.logits.float().cpu().numpy() if task != "regression" else None
    regression = output.regression.float().cpu().numpy() if task != "classification" else None
    return TeacherTargets(logits=logits, regression=regression)


def _fingerprint(teacher: Any, audio: Any, audio_column: str) -> str:
    digest = hashlib.sha256(teacher.config.to_json_string().encode())
    for parameter in teacher.state_dict().values():
        digest.update(parameter.detach().float().cpu().numpy().tobytes()[:4096])
    if hasattr(audio, "_fingerprint"):
        digest.update(f"{audio._fingerprint}:{audio_column}:{len(audio)}".encode())
    else:
        for clip in audio:
            digest.update(np.ascontiguousarray(clip, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _iter_clips(audio: Any, audio_column: str, sampling_rate: int) -> Iterable[np.ndarray]:
    if hasattr(audio, "column_names"):  # a datasets.Dataset
        raw = audio.with_format(None)
        for value in raw[audio_column]:
            yield decode_example_audio(value, sampling_rate)
    else:
        for clip in audio:
            yield np.asarray(clip, dtype=np.float32)


def label_with_teacher(
    teacher: Any,
    feature_extractor: Any,
    audio: Any,
    batch_size: int = 8,
    cache_path: Union[str, os.PathLike, None] = None,
    sampling_rate: int = 16000,
    audio_column: str = "audio",
) -> TeacherTargets:
    """Run ``teacher`` over every clip once and return its outputs (labelled or unlabelled audio).

    Args:
        teacher: any hf_ser model (put it in eval mode; its device is used).
        feature_extractor: the teacher's feature extractor.
        audio: a list of 1-D float32 arrays at ``sampling_rate``, or a `datasets.Dataset` whose
            ``audio_column`` holds paths / bytes / decoded dicts (decoded with `hf_ser.data`).
        batch_size: clips per teacher call.
        cache_path: ``.npz`` file; reused when it was written for the same teacher (config and weights)
            and the same audio, else (re)computed and written.
        sampling_rate: rate of the clips.
        audio_column: audio column of a dataset.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    fingerprint = _fingerprint(teacher, audio, audio_column) if cache_path is not None else ""
    if cache_path is not None and Path(cache_path).is_file():
        cached, cached_fingerprint = TeacherTargets.load(cache_path)
        if cached_fingerprint == fingerprint:
            return cached
        logger.warning("Teacher cache %s was written for another teacher or audio; relabelling.", cache_path)
    was_training = teacher.training
    teacher.eval()
    parts, batch = [], []
    total = len(audio)
    for clip in tqdm(
        _iter_clips(audio, audio_column, sampling_rate),
        total=total,
        desc="Teacher labelling",
        unit="clip",
        leave=False,
    ):
        batch.append(clip)
        if len(batch) == batch_size:
            parts.append(teacher_targets(teacher, feature_extractor, batch, sampling_rate))
            batch = []
    if batch:
        parts.append(teacher_targets(teacher, feature_extractor, batch, sampling_rate))
    teacher.train(was_training)
    if not parts:
        raise ValueError("label_with_teacher got no audio.")
    targets = TeacherTargets.concatenate(parts)
    if cache_path is not None:
        targets.save(cache_path, fingerprint)
    return targets


def add_teacher_columns(dataset: Any, targets: TeacherTargets) -> Any:
    """Return ``dataset`` with ``teacher_logits`` / ``teacher_regression`` list columns (row order kept)."""
    if len(targets) != len(dataset):
        raise ValueError(f"{len(targets)} teacher targets for a dataset of {len(dataset)} rows.")
    for name, values in (("teacher_logits", targets.logits), ("teacher_regression", targets.regression)):
        if values is not None:
            if name in dataset.column_names:
                dataset = dataset.remove_columns(name)
            dataset = dataset.add_column(name, values.astype(np.float32).tolist())
    return dataset


@dataclass
class DistillationCollator:
    """Wraps a collator (e.g. `SERDataCollator`) and stacks the rows' teacher columns into tensors."""

    collator: Any

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = dict(self.collator(rows))
        for name in TEACHER_COLUMNS:
            if rows and rows[0].get(name) is not None:
                batch[name] = torch.tensor([row[name] for row in rows], dtype=torch.float32)
        return batch

    def eval(self) -> DistillationCollator:
        """Evaluation copy of the wrapped collator (no cropping/augmentation)."""
        return DistillationCollator(self.collator.eval() if hasattr(self.collator, "eval") else self.collator)


def kd_classification_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, mean over the batch (Hinton et al.).

    The ``T^2`` factor keeps gradient magnitudes comparable across temperatures.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"Student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} "
            "must have the same shape (same classes in the same order)."
        )
    teacher_log_probs = F.log_softmax(teacher_logits.to(student_logits.dtype) / temperature, dim=-1)
    student_log_probs = F.log_softmax(student_logits / temperature, dim=-1)
    kl = F.kl_div(student_log_probs, teacher_log_probs, log_target=True, reduction="batchmean")
    return kl * temperature * temperature


@dataclass
class DistillationLoss:
    """Student loss from teacher targets, optionally mixed with the ground-truth loss.

    Args:
        temperature (`float`, *optional*, defaults to 2.0): softmax temperature of the class term.
        regression_loss (`str`, *optional*, defaults to `"mse"`): `"mse"`, `"ccc"` or `"ccc+mse"` between
            student and teacher A/D/V values.
        regression_weight (`float`, *optional*, defaults to 1.0): weight of the regression term relative
            to the class term.
        alpha (`float`, *optional*, defaults to 1.0): weight of the teacher terms; the student's own
            ground-truth loss (``output.loss``, computed when labels are passed to the student) gets
            ``1 - alpha``. ``alpha=1`` learns from the teacher only (unlabelled audio).
    """

    temperature: float = 2.0
    regression_loss: str = "mse"
    regression_weight: float = 1.0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}.")
        if self.regression_loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"Unknown regression_loss {self.regression_loss!r}; "
                f"choose one of {', '.join(REGRESSION_LOSSES)}."
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}.")

    def __call__(
        self,
        student_output: SERModelOutput,
        teacher_logits: Optional[torch.Tensor] = None,
        teacher_regression: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        terms = []
        if teacher_logits is not None:
            if student_output.regression is not None and student_output.logits is student_output.regression:
                raise ValueError(
                    "teacher_logits given but the student (task='regression') has no class head."
                )
            terms.append(kd_classification_loss(student_output.logits, teacher_logits, self.temperature))
        if teacher_regression is not None:
            if student_output.regression is None:
                raise ValueError(
                    "teacher_regression given but the student (task='classification') has no regression head."
                )
            terms.append(
                self.regression_weight
                * regression_loss(
                    self.regression_loss,
                    student_output.regression,
                    teacher_regression.to(student_output.regression),
                )
            )
        if not terms:
            raise ValueError("DistillationLoss needs teacher_logits and/or teacher_regression.")
        teacher_loss = torch.stack(terms).sum()
        if self.alpha >= 1.0:
            return teacher_loss
        if student_output.loss is None:
            raise ValueError(f"alpha={self.alpha} mixes in the ground truth: pass labels to the student.")
        return self.alpha * teacher_loss + (1.0 - self.alpha) * student_output.loss


class DistillationTrainer(SERTrainer):
    """`SERTrainer` whose training loss is :class:`DistillationLoss` on the batch's teacher targets.

    Batches carry ``teacher_logits`` / ``teacher_regression`` (see :class:`DistillationCollator`); batches
    without them (e.g. evaluation on the labelled test split) use the model's own ground-truth loss.

    Args:
        distillation (`DistillationLoss`, *optional*): the loss settings (default `DistillationLoss()`).
        **kwargs: everything `SERTrainer` accepts.
    """

    def __init__(self, *args: Any, distillation: Optional[DistillationLoss] = None, **kwargs: Any) -> None:
        self.distillation = distillation or DistillationLoss()
        super().__init__(*args, **kwargs)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Optional[Any] = None,
    ) -> Any:
        teacher = {name: inputs.pop(name, None) for name in TEACHER_COLUMNS}
        has_teacher = any(value is not None for value in teacher.values())
        if has_teacher and self.distillation.alpha >= 1.0:
            # Teacher-only training: ground-truth labels (absent or -100 for unlabelled audio) are not used.
            inputs = {
                key: value for key, value in inputs.items() if key not in ("labels", "regression_labels")
            }
        outputs = model(**inputs)
        loss = self.distillation(outputs, **teacher) if has_teacher else outputs.loss
        return (loss, outputs) if return_outputs else loss


__all__ = [
    "TEACHER_COLUMNS",
    "DistillationCollator",
    "DistillationLoss",
    "DistillationTrainer",
    "TeacherTargets",
    "add_teacher_columns",
    "check_teacher_student",
    "kd_classification_loss",
    "label_with_teacher",
    "teacher_targets",
]

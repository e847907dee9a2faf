"""One distillation run: a teacher (one hf_ser checkpoint or an ensemble) labels audio, a student learns it.

:func:`run_distill` is what ``recipes/distill.py`` calls. It is :func:`~.finetune.run_finetune` with a
teacher: the same config keys, data splits, student model (``model_type``: usually ``"student"``, the
Wav2Small-style model, but any family works), checkpointing, metrics and output directory, plus

- ``teacher``: one checkpoint directory or several (an ensemble; their class logits and A/D/V values are
  averaged). Any hf_ser model works: an SSL `SERModelForAudioClassification` (LoRA adapters merged, as
  ``recipes/finetune.py`` saves them), LSTM-SA, another student;
- ``teacher_cache: true`` (default): the teacher labels every training clip once, in full, and its
  outputs go to ``<output_dir>/teacher_cache/*.npz`` (one file per ensemble member), reused by later runs
  while the teacher and the clips are unchanged (e.g. ``--resume`` or a second student);
  ``teacher_cache: false``: the teacher labels each training batch on the fly, on exactly the cropped
  and augmented audio the student sees (slower; the student never sees a target for other audio);
- ``teacher_labels``: instead of ``teacher``, a directory of Parquet shards written by ``hf-ser label``
  (:mod:`hf_ser.labelling`): the student learns those stored outputs, joined to the clips by file path,
  and no teacher model is loaded (:mod:`~.stored_teacher`);
- ``unlabelled_data_dir``: extra audio without labels, labelled by the teacher and added to training;
- the loss (:class:`~.trainer_distillation.DistillationLoss`): ``T^2 * KL`` with ``distill_temperature`` for
  classes, ``distill_regression_loss`` (MSE / CCC) for A/D/V, mixed with the ground-truth loss as
  ``distill_alpha * teacher + (1 - distill_alpha) * truth``.

When the student predicts A/D/V but the corpus has no dimensional labels (EmoDB, RAVDESS, ...), the
teacher's A/D/V values become the labels of every split: validation and test CCC then measure agreement
with the teacher (the model card says so). Evaluation otherwise uses the corpus' ground truth.

Everything configurable is checked before any audio is decoded or teacher weights are read: teacher
directories exist and hold hf_ser models, ensemble members agree, and the teacher's classes /
regression targets fit the student's (:func:`hf_ser.training.trainer_distillation.check_teacher_student`).

Example:

```python
>>> from hf_ser.training import parse_config
>>> from hf_ser.training.distill import run_distill
>>> metrics = run_distill(parse_config(["--config", "recipes/configs/wav2small_distill.yaml",
...     "--teacher", "outputs/w2v2_emodb", "--data_dir", "../shared/data/emodb",
...     "--output_dir", "outputs/wav2small_emodb"]))  # doctest: +SKIP
```
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional, Sequence, Union

import datasets
import numpy as np
import torch

from ..cards import SERCardData
from . import trainer_distillation as kd
from .config import TrainConfig
from .finetune import find_checkpoint, run_finetune
from .model_factory import check_model_options
from .preparation import (
    SAMPLING_RATE,
    TrainingData,
    check_task_fits,
    load_dataset_for,
    regression_targets,
    split_data,
)
from .stored_teacher import StoredTeacher
from .trainer_distillation import (
    TEACHER_COLUMNS,
    DistillationCollator,
    DistillationLoss,
    DistillationTrainer,
    TeacherTargets,
    add_teacher_columns,
    check_teacher_student,
)

logger = logging.getLogger(__name__)

CACHE_DIRNAME = "teacher_cache"
DISTILL_DEFAULTS = {"model_type": "student", "output_dir": "outputs/distill"}
"""Config defaults of distillation runs (``recipes/distill.py``, ``hf-ser distill``): a Wav2Small student."""


# -- the teacher --------------------------------------------------------------------------------------
def check_teacher_paths(paths: Optional[Sequence[str]]) -> list[Path]:
    """The teacher directories as paths; raise before any compute when one is missing or not a model."""
    if not paths:
        raise ValueError(
            "Distillation needs a teacher: pass --teacher DIR (a checkpoint written by recipes/finetune.py), "
            "or a YAML list of directories for an ensemble."
        )
    checked = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(
                f"Teacher {str(path)!r} does not exist (expected a checkpoint directory)."
            )
        for name in ("config.json", "preprocessor_config.json"):
            if not (path / name).is_file():
                hint = (
                    " It looks like a LoRA adapter: use the merged model directory above it."
                    if (path / "adapter_config.json").is_file()
                    else ""
                )
                raise FileNotFoundError(
                    f"Teacher {str(path)!r} has no {name}: not an hf_ser checkpoint.{hint}"
                )
        checked.append(path)
    return checked


def _config_summary(config: Any) -> tuple:
    task = config.task
    labels = dict(config.id2label) if task != "regression" else None
    targets = list(config.regression_targets) if task != "classification" else None
    return task, labels, targets


def load_teacher_config(paths: Sequence[Union[str, Path]]) -> Any:
    """The (shared) config of the teacher checkpoint(s), read without loading weights.

    Raises a ValueError when a checkpoint is not an hf_ser model (no ``task``) or when ensemble members
    disagree on task, classes or regression targets (their outputs could not be averaged).
    """
    from transformers import AutoConfig

    configs = []
    for path in paths:
        config = AutoConfig.from_pretrained(path)
        if getattr(config, "task", None) is None:
            raise ValueError(
                f"Teacher {str(path)!r} is a {config.model_type!r} model, not an hf_ser emotion model "
                "(its config has no `task`)."
            )
        configs.append(config)
    first = _config_summary(configs[0])
    for path, config in zip(paths[1:], configs[1:], strict=True):
        if _config_summary(config) != first:
            raise ValueError(
                f"Ensemble teachers disagree: {str(paths[0])!r} has (task, classes, targets) {first}, "
                f"{str(path)!r} has {_config_summary(config)}."
            )
    return configs[0]


@dataclass
class Teacher:
    """One or several hf_ser models (with their feature extractors) whose averaged outputs are the targets.

    Averaging class logits (not probabilities) keeps the targets logits, so the temperature of the KD loss
    applies to the ensemble as to a single model.
    """

    paths: list[str]
    models: list[Any]
    extractors: list[Any]

    @classmethod
    def from_pretrained(
        cls, paths: Sequence[Union[str, Path]], device: Union[str, torch.device] = "cpu"
    ) -> Teacher:
        """Load every checkpoint (safetensors, no remote code) in eval mode on ``device``."""
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        models = [AutoModelForAudioClassification.from_pretrained(p).eval().to(device) for p in paths]
        extractors = [AutoFeatureExtractor.from_pretrained(p) for p in paths]
        return cls([str(p) for p in paths], models, extractors)

    @property
    def config(self) -> Any:
        return self.models[0].config

    def to(self, device: Union[str, torch.device]) -> Teacher:
        self.models = [model.to(device) for model in self.models]
        return self

    def label(
        self, audio: Any, batch_size: int, cache_dir: Optional[Path] = None, name: str = "train"
    ) -> TeacherTargets:
        """Averaged outputs for a dataset's clips (``cache_dir/<name>_teacher<i>.npz`` per member)."""
        parts = [
            kd.label_with_teacher(
                model,
                extractor,
                audio,
                batch_size=batch_size,
                cache_path=None if cache_dir is None else cache_dir / f"{name}_teacher{index}.npz",
                sampling_rate=SAMPLING_RATE,
            )
            for index, (model, extractor) in enumerate(zip(self.models, self.extractors, strict=True))
        ]
        return average_targets(parts)

    def __call__(self, clips: Sequence[np.ndarray]) -> TeacherTargets:
        """Averaged outputs for one batch of 16 kHz clips (on-the-fly labelling)."""
        return average_targets(
            [
                kd.teacher_targets(model, extractor, clips, SAMPLING_RATE)
                for model, extractor in zip(self.models, self.extractors, strict=True)
            ]
        )


def average_targets(parts: Sequence[TeacherTargets]) -> TeacherTargets:
    """Mean of the ensemble members' logits and regression values (one member: returned as is)."""

    def mean(name: str) -> Optional[np.ndarray]:
        values = [getattr(part, name) for part in parts]
        return None if values[0] is None else np.mean(np.stack(values), axis=0).astype(np.float32)

    return (
        parts[0] if len(parts) == 1 else TeacherTargets(logits=mean("logits"), regression=mean("regression"))
    )


def for_student(targets: TeacherTargets, student_task: str) -> TeacherTargets:
    """Keep the teacher outputs the student has a head for (a classifier ignores a teacher's A/D/V)."""
    return TeacherTargets(
        logits=targets.logits if student_task != "regression" else None,
        regression=targets.regression if student_task != "classification" else None,
    )


# -- on-the-fly labelling -------------------------------------------------------------------------------
@dataclass
class TeacherLabellingCollator:
    """Collate training rows with ``collator`` and add the teacher's outputs for the same (decoded,
    cropped, augmented) clips as ``teacher_logits`` / ``teacher_regression``."""

    collator: Any
    teacher: Teacher
    student_task: str

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = dict(self.collator(rows))
        clips = [np.asarray(row["audio"]["array"], dtype=np.float32) for row in rows]
        targets = for_student(self.teacher(clips), self.student_task)
        for name, values in zip(TEACHER_COLUMNS, (targets.logits, targets.regression), strict=True):
            if values is not None:
                batch[name] = torch.from_numpy(values)
        return batch


class OnTheFlyDistillationTrainer(DistillationTrainer):
    """`DistillationTrainer` whose training batches come from ``train_data_collator`` (which runs the
    teacher) while evaluation batches use the plain ``data_collator`` (ground truth, no teacher calls)."""

    def __init__(self, *args: Any, train_data_collator: Any, **kwargs: Any) -> None:
        self.train_data_collator = train_data_collator
        super().__init__(*args, **kwargs)

    def get_train_dataloader(self) -> torch.utils.data.DataLoader:
        eval_collator, self.data_collator = self.data_collator, self.train_data_collator
        try:
            return super().get_train_dataloader()
        finally:
            self.data_collator = eval_collator


# -- data ----------------------------------------------------------------------------------------------
def unlabelled_files(directories: Sequence[str]) -> list[Path]:
    """Audio files (wav, flac, ogg, mp3) under each directory, searched recursively; raise for a missing
    or audio-free directory."""
    from ..data.corpora.base import audio_files

    paths: list[Path] = []
    for directory in map(Path, directories):
        if not directory.is_dir():
            raise FileNotFoundError(f"unlabelled_data_dir {str(directory)!r} does not exist.")
        found = audio_files(directory)
        if not found:
            raise ValueError(f"unlabelled_data_dir {str(directory)!r} holds no wav/flac/ogg/mp3 files.")
        paths += found
    return paths


def unlabelled_dataset(paths: Sequence[Path], like: datasets.Dataset) -> datasets.Dataset:
    """Audio files as rows with ``like``'s columns: label -1, the other columns empty."""
    columns: dict[str, list] = {name: [None] * len(paths) for name in like.column_names}
    columns["audio"] = [{"bytes": None, "path": str(path)} for path in paths]
    columns["label"] = [-1] * len(paths)
    if "corpus" in columns:
        columns["corpus"] = ["unlabelled"] * len(paths)
    features = like.features.copy()
    # Audio.encode_example needs torchcodec: write the storage struct, then cast (as the corpus loaders do).
    features["audio"] = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    dataset = datasets.Dataset.from_dict(columns, features=features)
    return dataset.cast_column("audio", like.features["audio"])


def teacher_fills_regression(cfg: TrainConfig, dataset: datasets.Dataset) -> bool:
    """True when the student predicts A/D/V but the corpus has none of the target columns."""
    if cfg.task == "classification":
        return False
    return not any(name in dataset.column_names for name in regression_targets(cfg))


def _with_regression_columns(
    dataset: datasets.Dataset, values: np.ndarray, names: list[str]
) -> datasets.Dataset:
    for index, name in enumerate(names):
        dataset = dataset.add_column(name, values[:, index].astype(np.float64).tolist())
    return dataset


def _without_teacher_columns(split: Optional[datasets.Dataset]) -> Optional[datasets.Dataset]:
    if split is None:
        return None
    return split.remove_columns([name for name in TEACHER_COLUMNS if name in split.column_names])


def prepare_distillation_data(
    cfg: TrainConfig, teacher: Teacher, dataset: datasets.Dataset, unlabelled: Sequence[Path] = ()
) -> tuple[TrainingData, dict[str, Any]]:
    """Split ``dataset`` (the corpus, undecoded), let the teacher label what it must, add the
    ``unlabelled`` audio files to the training split.

    Returns the data (training rows carry teacher columns when caching) and facts for the model card.
    """
    from accelerate import PartialState

    fill = teacher_fills_regression(cfg, dataset)
    cache_dir = Path(cfg.output_dir) / CACHE_DIRNAME if cfg.teacher_cache else None
    batch_size = cfg.per_device_eval_batch_size
    facts: dict[str, Any] = {"teacher_fills_regression": fill}
    with PartialState().main_process_first():  # the main process labels and writes the cache first
        if fill:
            targets = teacher.label(dataset, batch_size, cache_dir, name="corpus")
            dataset = _with_regression_columns(dataset, targets.regression, regression_targets(cfg))
            if cfg.teacher_cache:
                dataset = add_teacher_columns(dataset, for_student(targets, cfg.task))
        check_task_fits(cfg, dataset)
        data = split_data(cfg, dataset)
        if cfg.teacher_cache and not fill:
            targets = teacher.label(data.train, batch_size, cache_dir, name="train")
            data.train = add_teacher_columns(data.train, for_student(targets, cfg.task))
        data.validation = _without_teacher_columns(data.validation)
        data.tests = {name: _without_teacher_columns(split) for name, split in data.tests.items()}
        if unlabelled:
            extra = unlabelled_dataset(unlabelled, _without_teacher_columns(dataset))
            if cfg.teacher_cache:
                targets = teacher.label(extra, batch_size, cache_dir, name="unlabelled")
                extra = add_teacher_columns(extra, for_student(targets, cfg.task))
            data.train = datasets.concatenate_datasets([data.train, extra.cast(data.train.features)])
            facts["unlabelled_clips"] = len(extra)
    return data, facts


# -- the run -------------------------------------------------------------------------------------------
def _teacher_card_facts(paths: list[Path], teacher_config: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "teacher": [str(path) for path in paths],
        "teacher_model_type": teacher_config.model_type,
        "teacher_task": teacher_config.task,
    }
    metrics_file = paths[0] / "metrics.json"
    if len(paths) == 1 and metrics_file.is_file():
        test = json.loads(metrics_file.read_text()).get("test", {})
        facts["teacher_test_metrics"] = {
            key: round(value, 4) for key, value in test.items() if key in ("uar", "wa", "macro_f1", "ccc")
        }
    return facts


def _setup_trainer(
    model: Any,
    collator: Any,
    card: SERCardData,
    *,
    cfg: TrainConfig,
    teacher: Teacher,
    card_facts: dict[str, Any],
) -> tuple[type, dict[str, Any]]:
    """``run_finetune`` hook: check the built student against the teacher, pick the trainer, fill the card."""
    check_teacher_student(teacher.config, model.config)
    distillation = DistillationLoss(
        temperature=cfg.distill_temperature,
        regression_loss=cfg.distill_regression_loss,
        alpha=cfg.distill_alpha,
    )
    card.hyperparameters.update(
        {
            **{key: value for key, value in card_facts.items() if key != "teacher_fills_regression"},
            "teacher_labels": "cached once (full clips)"
            if cfg.teacher_cache
            else "on the fly (training crops)",
            "distill_temperature": cfg.distill_temperature,
            "distill_alpha": cfg.distill_alpha,
            "distill_regression_loss": cfg.distill_regression_loss,
        }
    )
    card.tags.append("knowledge-distillation")
    teachers = ", ".join(f"`{path}`" for path in card_facts["teacher"])
    card.limitations.append(
        f"Distilled from {teachers}: the student learns that teacher's outputs, its errors and biases "
        "included."
    )
    if card_facts.get("teacher_fills_regression"):
        card.limitations.append(
            f"The corpus has no {', '.join(regression_targets(cfg))} labels: the teacher's predictions were "
            "used as labels of every split, so the CCC values measure agreement with the teacher, not with "
            "people."
        )
    if cfg.teacher_cache:
        return DistillationTrainer, {
            "distillation": distillation,
            "data_collator": DistillationCollator(collator),
        }
    from accelerate import PartialState

    if cfg.dataloader_num_workers == 0:  # the teacher runs in the training process: use its device
        teacher.to(PartialState().device)
    return OnTheFlyDistillationTrainer, {
        "distillation": distillation,
        "train_data_collator": TeacherLabellingCollator(collator, teacher, cfg.task),
    }


def _teacher_description(cfg: TrainConfig) -> tuple[list[Path], Any]:
    """The teacher's paths and config: checkpoint directories (``teacher``) or, with ``teacher_labels``,
    the directory of stored outputs and a config read from their columns (no model loaded)."""
    if cfg.teacher_labels:
        stored = StoredTeacher.from_directory(cfg.teacher_labels)
        return [stored.directory], stored.config
    paths = check_teacher_paths(cfg.teacher)
    return paths, load_teacher_config(paths)


def run_distill(cfg: TrainConfig) -> dict[str, dict[str, float]]:
    """Distil ``cfg.teacher`` into the student of ``cfg``; return metrics per split (like `run_finetune`).

    Writes what :func:`~.finetune.run_finetune` writes (model, feature extractor, ``metrics.json``, plot,
    ``train_config.yaml``, model card naming the teacher) plus ``teacher_cache/`` when caching.
    """
    paths, teacher_config = _teacher_description(cfg)
    check_model_options(cfg)
    if not cfg.resume:
        find_checkpoint(cfg)  # refuses an output_dir holding another run's checkpoints
    unlabelled = unlabelled_files(cfg.unlabelled_data_dir or [])
    # The student's outputs are known from the config and the corpus' label names (no audio decoded).
    metadata = load_dataset_for(cfg, check_task=False)
    names = metadata.features["label"].names
    student = SimpleNamespace(
        task=cfg.task, id2label=dict(enumerate(names)), regression_targets=regression_targets(cfg)
    )
    check_teacher_student(teacher_config, student)
    unsupervised = {"classification": "regression", "regression": "classification"}.get(teacher_config.task)
    if cfg.task == "multitask" and unsupervised and cfg.distill_alpha >= 1.0:
        raise ValueError(
            f"The teacher (task={teacher_config.task!r}) gives no {unsupervised} targets, and "
            f"distill_alpha=1 ignores the ground truth: the multitask student's {unsupervised} head would "
            f"learn nothing. Set distill_alpha < 1 or task: {teacher_config.task}."
        )
    if cfg.task == "multitask" and teacher_fills_regression(cfg, metadata):
        check_task_fits(cfg.replace(task="classification"), metadata)
    if (
        cfg.task != "classification"
        and teacher_config.task == "classification"
        and teacher_fills_regression(cfg, metadata)
    ):
        raise ValueError(
            f"task={cfg.task!r} needs A/D/V values, but corpus {cfg.corpus!r} has none and the teacher "
            "(task='classification') predicts none."
        )

    teacher = StoredTeacher.from_directory(paths[0]) if cfg.teacher_labels else Teacher.from_pretrained(paths)
    data, facts = prepare_distillation_data(cfg, teacher, metadata, unlabelled)
    card_facts = {**_teacher_card_facts(paths, teacher_config), **facts}
    setup = partial(_setup_trainer, cfg=cfg, teacher=teacher, card_facts=card_facts)
    return run_finetune(cfg, data=data, setup=setup)

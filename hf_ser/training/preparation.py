"""Data for the recipes: load the corpus, check it fits the task, split it without speaker leakage.

The corpus comes from :func:`hf_ser.data.load_corpus` (audio not decoded). Splits follow the config's
protocol: the corpus' official ``split`` column (MSP-Podcast), or speaker-disjoint folds from
:func:`hf_ser.data.speaker_folds` where fold ``k`` is the test set and, with ``use_validation``, fold
``k + 1`` (other speakers again) is the validation set used for best-checkpoint selection and early
stopping. Clips are decoded lazily with :func:`hf_ser.data.with_decoded_audio`; training clips go through
:class:`hf_ser.data.transforms.RandomCrop` (reproducible random crop + augmentation preset), evaluation
clips through :class:`hf_ser.data.transforms.CenterCrop` (deterministic centre crop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import datasets
import numpy as np

from .config import TrainConfig

SAMPLING_RATE = 16000
DEFAULT_TARGETS = ["arousal", "dominance", "valence"]


@dataclass
class TrainingData:
    """The splits of one run, undecoded, plus what the model needs to know about the labels."""

    train: datasets.Dataset
    validation: Optional[datasets.Dataset]
    tests: dict[str, datasets.Dataset]
    id2label: dict[int, str]
    regression_targets: list[str]
    protocol: str
    speakers: dict[str, list[str]] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        sizes = {"train": len(self.train)}
        if self.validation is not None:
            sizes["validation"] = len(self.validation)
        sizes.update({name: len(split) for name, split in self.tests.items()})
        return sizes


def regression_targets(cfg: TrainConfig) -> list[str]:
    """Regression target names of the run (``model.regression_targets`` or arousal/dominance/valence)."""
    return list(cfg.model.get("regression_targets") or DEFAULT_TARGETS)


def check_data_dir(cfg: TrainConfig) -> None:
    """Fail before any compute when ``data_dir`` is missing."""
    if cfg.data_dir is None:
        raise ValueError("`data_dir` is required: pass --data_dir DIR (where the corpus was unpacked).")
    if not Path(cfg.data_dir).expanduser().exists():
        raise FileNotFoundError(f"data_dir {cfg.data_dir!r} does not exist (corpus {cfg.corpus!r}).")


def load_dataset_for(cfg: TrainConfig, check_task: bool = True) -> datasets.Dataset:
    """Load the corpus named in ``cfg``, keep ``labels``, subsample ``max_samples``, check the task fits
    (``check_task=False``: the caller checks, e.g. distillation where a teacher supplies A/D/V values)."""
    from ..data.corpora import load_corpus

    check_data_dir(cfg)
    dataset = load_corpus(cfg.corpus, cfg.data_dir, SAMPLING_RATE, emotions=cfg.labels, **cfg.corpus_kwargs)
    if cfg.max_samples is not None and cfg.max_samples < len(dataset):
        dataset = dataset.select(stratified_subset(dataset["label"], cfg.max_samples, cfg.seed))
    if check_task:
        check_task_fits(cfg, dataset)
    return dataset


def stratified_subset(labels: list[int], size: int, seed: int) -> list[int]:
    """``size`` row indices taking classes in turn (seeded order), sorted: a small balanced subset."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for row in rng.permutation(len(labels)).tolist():
        by_class.setdefault(labels[row], []).append(row)
    chosen: list[int] = []
    queues = [by_class[key] for key in sorted(by_class)]
    while len(chosen) < size:
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop())
    return sorted(chosen)


def check_task_fits(cfg: TrainConfig, dataset: datasets.Dataset) -> None:
    """Raise a ValueError when the corpus lacks what the task (or CTC) needs."""
    columns = dataset.column_names
    if cfg.task in ("classification", "multitask"):
        names = dataset.features["label"].names if "label" in columns else []
        labelled = [label for label in dataset["label"] if label >= 0] if names else []
        if len(set(labelled)) < 2:
            raise ValueError(
                f"task={cfg.task!r} needs at least 2 emotion classes with clips; corpus {cfg.corpus!r} has "
                f"{sorted({names[i] for i in labelled})} after `labels`={cfg.labels}."
            )
    if cfg.task in ("regression", "multitask"):
        targets = regression_targets(cfg)
        missing = [name for name in targets if name not in columns]
        if missing:
            raise ValueError(
                f"task={cfg.task!r} needs regression columns {targets} but corpus {cfg.corpus!r} "
                f"lacks {missing} "
                f"(its columns: {columns}). Use task: classification, or a corpus with dimensional labels "
                "(msp_podcast, iemocap)."
            )
        if all(value is None for value in dataset[targets[0]]):
            raise ValueError(f"Corpus {cfg.corpus!r} has no {targets[0]!r} values at all.")
    if cfg.ctc_alpha > 0:
        texts = dataset["text"] if "text" in columns else []
        if not any(texts):
            raise ValueError(
                f"ctc_alpha={cfg.ctc_alpha} needs transcripts in a `text` column; "
                f"corpus {cfg.corpus!r} has none "
                f"(columns: {columns}). Set ctc_alpha: 0 or use a corpus with transcripts (e.g. iemocap)."
            )


def uses_official_splits(cfg: TrainConfig, dataset: datasets.Dataset) -> bool:
    if cfg.protocol == "official" and "split" not in dataset.column_names:
        raise ValueError(f"protocol 'official' needs a `split` column; corpus {cfg.corpus!r} has none.")
    return cfg.protocol == "official" or (cfg.protocol == "auto" and "split" in dataset.column_names)


def compute_folds(cfg: TrainConfig, dataset: datasets.Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """Speaker-disjoint ``(train, test)`` index pairs for ``cfg.folds`` (None = leave-one-group-out)."""
    from ..data.folds import speaker_folds

    if cfg.group not in dataset.column_names:
        raise ValueError(
            f"group={cfg.group!r} is not a column of corpus {cfg.corpus!r}: {dataset.column_names}."
        )
    folds = speaker_folds(
        dataset, n_folds=cfg.folds, group=cfg.group, stratify=cfg.task != "regression", seed=0
    )
    needed = 3 if cfg.use_validation else 2
    if len(folds) < needed:
        raise ValueError(
            f"Only {len(folds)} {cfg.group} folds; {needed} are needed (test"
            + (", validation" if cfg.use_validation else "")
            + " and training speakers)."
        )
    if cfg.fold >= len(folds):
        raise ValueError(f"fold={cfg.fold} but there are only {len(folds)} folds.")
    return folds


def split_data(cfg: TrainConfig, dataset: datasets.Dataset, folds: Optional[list] = None) -> TrainingData:
    """Train / validation / test splits of ``dataset`` for fold ``cfg.fold`` (or the official splits)."""
    if uses_official_splits(cfg, dataset):
        from ..data.folds import official_splits

        parts = official_splits(dataset)
        if "train" not in parts:
            raise ValueError(f"The `split` column has no 'train' rows: {sorted(parts)}.")
        validation = parts.get("validation") if cfg.use_validation else None
        tests = {name: part for name, part in parts.items() if name not in ("train", "validation")}
        if not tests and validation is not None and not cfg.use_validation:
            tests = {"validation": validation}
        train, protocol = parts["train"], "official splits of the corpus"
    else:
        folds = folds if folds is not None else compute_folds(cfg, dataset)
        train_rows, test_rows = folds[cfg.fold]
        validation = None
        if cfg.use_validation:
            validation_rows = folds[(cfg.fold + 1) % len(folds)][1]
            train_rows = np.setdiff1d(train_rows, validation_rows)
            validation = dataset.select(validation_rows)
        train = dataset.select(train_rows)
        tests = {"test": dataset.select(test_rows)}
        kind = (
            f"leave-one-{cfg.group}-out" if cfg.folds is None else f"{len(folds)} {cfg.group}-disjoint folds"
        )
        protocol = f"{kind}, test fold {cfg.fold}" + (
            ", validation = next fold" if cfg.use_validation else ""
        )
    if cfg.task != "regression":
        train = train.filter(lambda label: label >= 0, input_columns="label")
    names = dataset.features["label"].names
    speakers = {"train": sorted(set(train["speaker"]) - {None})}
    if validation is not None:
        speakers["validation"] = sorted(set(validation["speaker"]) - {None})
    for name, part in tests.items():
        speakers[name] = sorted(set(part["speaker"]) - {None})
    return TrainingData(
        train=train,
        validation=validation,
        tests=tests,
        id2label=dict(enumerate(names)),
        regression_targets=regression_targets(cfg),
        protocol=protocol,
        speakers=speakers,
    )


def class_weights_from(train: datasets.Dataset, num_labels: int) -> list[float]:
    """Inverse-frequency class weights (mean 1) from the training labels; absent classes get weight 0."""
    counts = np.bincount([label for label in train["label"] if label >= 0], minlength=num_labels).astype(
        float
    )
    weights = np.divide(counts.sum(), num_labels * counts, out=np.zeros_like(counts), where=counts > 0)
    return weights.tolist()


def build_augmentation(cfg: TrainConfig) -> Optional[Callable]:
    """The training clips' waveform augmentation: ``cfg.augment``'s preset and/or ``cfg.speed_perturbation``.

    None when neither is set. Speed perturbation draws uniformly from ``[1.0, *cfg.speed_perturbation]``.
    """
    speeds = None if cfg.speed_perturbation is None else (1.0, *cfg.speed_perturbation)
    if cfg.augment is None:
        if speeds is None:
            return None
        from ..data.augment import Augmenter, SpeedPerturbation

        return Augmenter([SpeedPerturbation(speeds)], seed=cfg.seed)
    from ..data.augment import build_augmentation as build

    return build(cfg.augment, seed=cfg.seed, speed_factors=speeds)


def decoded(split: datasets.Dataset, transform: Callable) -> datasets.Dataset:
    """Lazily decoded view of a split with a per-clip transform."""
    from ..data.decoding import with_decoded_audio

    return with_decoded_audio(split, SAMPLING_RATE, augment=transform)

"""Batch collation for SER training and evaluation, and length information for length-grouped batching.

:class:`SERDataCollator` takes rows as a corpus gives them (``audio`` as a path dict from
:func:`hf_ser.data.load_corpus`, or already decoded by :func:`hf_ser.data.with_decoded_audio`),
decodes them if needed, optionally crops and augments them (training mode only, with
:class:`hf_ser.data.transforms.RandomCrop`: reproducible crops, see there), and pads them with
the model's feature extractor, which always returns an attention mask. It passes ``labels`` and, when
``regression_columns`` are given, ``regression_labels``.

Transformers' `Trainer` builds length-grouped batches with
``TrainingArguments(train_sampling_strategy="group_by_length", length_column_name="length")``;
:func:`add_length_column` adds that column from file headers, without decoding audio.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from .audio import DEFAULT_SAMPLING_RATE, audio_duration, decode_example_audio
from .processor import tokenize_texts
from .threads import limit_worker_threads
from .transforms import RandomCrop

IGNORE_INDEX = -100
"""Class label ignored by the losses (rows with label -1, "no class", are mapped to it)."""


@dataclass
class SERDataCollator:
    """Pad a list of rows into model inputs with an attention mask, ``labels`` and ``regression_labels``.

    Args:
        feature_extractor: a transformers feature extractor (e.g. `Wav2Vec2FeatureExtractor`), called as
            ``feature_extractor(arrays, sampling_rate=..., padding=True, return_attention_mask=True,
            return_tensors="pt")``.
        sampling_rate (`int`, *optional*, defaults to 16000): rate clips are decoded to.
        audio_column (`str`, *optional*, defaults to `"audio"`).
        label_column (`str`, *optional*, defaults to `"label"`): ``None`` = pass no ``labels``.
        regression_columns (`Sequence[str]`, *optional*): columns stacked into ``regression_labels``
            ``(batch, targets)`` (None values become NaN = missing), e.g. ``("arousal", "dominance",
            "valence")``. ``None`` = pass no ``regression_labels``.
        max_length_seconds (`float`, *optional*): in training mode, crop longer clips to this length
            (random window with ``random_crop``, else the start). The window depends on ``seed``, the
            clip and ``collator.epoch`` only, so it is the same after a resume; new windows each epoch
            need ``collator.epoch`` set, e.g. with ``hf_ser.training.CropEpochCallback(collator)``.
        random_crop (`bool`, *optional*, defaults to `True`).
        augment (`Callable`, *optional*): ``augment(array, sampling_rate, label=...)``, applied in training
            mode only, after the crop (see :mod:`hf_ser.augment`).
        training (`bool`, *optional*, defaults to `True`): crop and augment only when True. `Trainer` uses
            one collator for training and evaluation: give it ``collator.eval()``'s copy for evaluation
            (or crop/augment in the training dataset instead) so test clips are never changed.
        pad_to_multiple_of (`int`, *optional*): forwarded to the feature extractor.
        seed (`int`, *optional*, defaults to 0): seed of the crop positions.
        tokenizer (*optional*): the text encoder's tokenizer, for models with text as a second input
            (``SERConfig(text_backbone=...)``): each row's ``text_column`` becomes ``text_input_ids`` /
            ``text_attention_mask`` (a missing transcript is tokenised as an empty string).
        text_column (`str`, *optional*, defaults to `"text"`): the transcript column (the corpus loaders'
            name, e.g. IEMOCAP's and MSP-Podcast's).

    Example:

    ```python
    >>> import numpy as np
    >>> from transformers import Wav2Vec2FeatureExtractor
    >>> from hf_ser.data import SERDataCollator
    >>> collator = SERDataCollator(Wav2Vec2FeatureExtractor(return_attention_mask=True))
    >>> rows = [{"audio": {"array": np.ones(8000, np.float32), "sampling_rate": 16000}, "label": 1},
    ...         {"audio": {"array": np.ones(16000, np.float32), "sampling_rate": 16000}, "label": 0}]
    >>> batch = collator(rows)
    >>> tuple(batch["input_values"].shape), batch["attention_mask"].sum(-1).tolist(), batch["labels"].tolist()
    ((2, 16000), [8000, 16000], [1, 0])

    ```
    """

    feature_extractor: Any
    sampling_rate: int = DEFAULT_SAMPLING_RATE
    audio_column: str = "audio"
    label_column: Optional[str] = "label"
    regression_columns: Optional[Sequence[str]] = None
    max_length_seconds: Optional[float] = None
    random_crop: bool = True
    augment: Optional[Callable[..., np.ndarray]] = None
    training: bool = True
    pad_to_multiple_of: Optional[int] = None
    seed: int = 0
    tokenizer: Any = None
    text_column: str = "text"
    transform: RandomCrop = field(init=False, repr=False)

    def __post_init__(self):
        if self.max_length_seconds is not None and self.max_length_seconds <= 0:
            raise ValueError(f"max_length_seconds must be positive, got {self.max_length_seconds!r}.")
        self.transform = RandomCrop(self.max_length_seconds, self.seed, self.augment, self.random_crop)

    @property
    def epoch(self) -> int:
        """Epoch whose crops the training mode draws (see :class:`~.transforms.RandomCrop`)."""
        return self.transform.epoch

    @epoch.setter
    def epoch(self, epoch: int) -> None:
        self.transform.epoch = epoch

    def eval(self) -> SERDataCollator:
        """A copy in evaluation mode: no cropping, no augmentation."""
        return dataclasses.replace(self, training=False)

    def train(self) -> SERDataCollator:
        """A copy in training mode."""
        return dataclasses.replace(self, training=True)

    def _array(self, row: dict) -> np.ndarray:
        if self.audio_column not in row:
            raise ValueError(f"Row has no {self.audio_column!r} column; columns: {sorted(row)}.")
        array = decode_example_audio(row[self.audio_column], self.sampling_rate)
        if self.training:
            label = row.get(self.label_column) if self.label_column else None
            array = self.transform(array, self.sampling_rate, label=label)
        return array

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        limit_worker_threads()  # feature extraction in a DataLoader worker: one thread (no-op elsewhere)
        arrays = [self._array(row) for row in rows]
        batch = self.feature_extractor(
            arrays,
            sampling_rate=self.sampling_rate,
            padding=True,
            return_attention_mask=True,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors="pt",
        )
        batch = dict(batch)
        if self.label_column is not None:
            labels = [row[self.label_column] for row in rows]
            batch["labels"] = torch.tensor(
                [IGNORE_INDEX if label is None or label < 0 else int(label) for label in labels],
                dtype=torch.long,
            )
        if self.regression_columns:
            values = [
                [
                    np.nan if row.get(column) is None else float(row[column])
                    for column in self.regression_columns
                ]
                for row in rows
            ]
            batch["regression_labels"] = torch.tensor(values, dtype=torch.float32)
        if self.tokenizer is not None:
            batch.update(tokenize_texts(self.tokenizer, [row.get(self.text_column) for row in rows]))
        return batch


def add_length_column(
    dataset: datasets.Dataset,
    column: str = "length",
    sampling_rate: int = DEFAULT_SAMPLING_RATE,
    audio_column: str = "audio",
) -> datasets.Dataset:
    """Add ``column`` = clip length in samples at ``sampling_rate``, read from file headers (no decoding).

    Use it with ``TrainingArguments(train_sampling_strategy="group_by_length", length_column_name=column)``
    or :func:`length_grouped_sampler`. Call it before :func:`with_decoded_audio` (column reads go through
    the decoding transform). Uses an existing ``duration`` column (seconds) when present.
    """
    raw = dataset.with_format(None)
    if "duration" in raw.column_names:
        durations = list(raw["duration"])
    else:
        durations = []
        for value in tqdm(raw[audio_column], desc="Reading audio lengths", unit="file", leave=False):
            if value.get("path") is None:
                raise ValueError(
                    f"Row without an audio path in column {audio_column!r}; cannot read its length."
                )
            durations.append(audio_duration(value["path"]))
    lengths = [int(round(seconds * sampling_rate)) for seconds in durations]
    return dataset.add_column(column, lengths)


def length_grouped_sampler(
    dataset: datasets.Dataset, batch_size: int, column: str = "length", seed: int = 0
) -> torch.utils.data.Sampler:
    """transformers' `LengthGroupedSampler` over ``dataset[column]``: batches of similar length, shuffled.

    For custom loops; `Trainer` builds the same sampler itself with
    ``train_sampling_strategy="group_by_length"``.
    """
    from transformers.trainer_pt_utils import LengthGroupedSampler

    raw = dataset.with_format(None)
    if column not in raw.column_names:
        raise ValueError(f"Column {column!r} not in {raw.column_names}; add it with add_length_column().")
    generator = torch.Generator().manual_seed(seed)
    return LengthGroupedSampler(batch_size, lengths=[int(n) for n in raw[column]], generator=generator)


__all__ = ["IGNORE_INDEX", "SERDataCollator", "add_length_column", "length_grouped_sampler"]

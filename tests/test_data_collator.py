"""Tests for hf_ser.data.collator: padding with attention masks, labels, cropping, length grouping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_ser.data import (
    IGNORE_INDEX,
    SERDataCollator,
    add_length_column,
    length_grouped_sampler,
    load_audio,
    load_corpus,
    with_decoded_audio,
)


@pytest.fixture(scope="module")
def emodb(data_dir):
    return load_corpus("emodb", data_dir / "emodb")


def _rows(arrays, labels):
    return [
        {"audio": {"array": a, "sampling_rate": 16000}, "label": y}
        for a, y in zip(arrays, labels, strict=True)
    ]


def test_pads_real_clips_with_attention_mask(feature_extractor, emodb_clips):
    batch = SERDataCollator(feature_extractor)(_rows(emodb_clips, [0, 1, 2, 3]))
    lengths = [clip.size for clip in emodb_clips]
    assert set(batch) == {"input_values", "attention_mask", "labels"}
    assert tuple(batch["input_values"].shape) == (4, max(lengths))
    assert batch["attention_mask"].sum(-1).tolist() == lengths
    assert batch["labels"].dtype == torch.long
    assert batch["labels"].tolist() == [0, 1, 2, 3]
    for row, length in enumerate(lengths):  # padding is zeros after each clip, clip normalised alone
        assert torch.all(batch["input_values"][row, length:] == 0)
        alone = feature_extractor(emodb_clips[row], sampling_rate=16000, return_tensors="pt")["input_values"][
            0
        ]
        torch.testing.assert_close(batch["input_values"][row, :length], alone)


def test_decodes_corpus_rows_and_matches_decoded_dataset(feature_extractor, emodb):
    collator = SERDataCollator(feature_extractor)
    raw = [emodb[i] for i in range(3)]
    decoded = with_decoded_audio(emodb)
    from_paths, from_arrays = collator(raw), collator([decoded[i] for i in range(3)])
    torch.testing.assert_close(from_paths["input_values"], from_arrays["input_values"])
    assert from_paths["labels"].tolist() == emodb["label"][:3]


def test_regression_labels_and_missing_values(feature_extractor):
    rows = _rows([np.ones(100, np.float32), np.ones(50, np.float32)], [2, -1])
    rows[0].update(arousal=0.5, valence=0.25)
    rows[1].update(arousal=None, valence=0.75)
    batch = SERDataCollator(feature_extractor, regression_columns=("arousal", "valence"))(rows)
    assert batch["labels"].tolist() == [2, IGNORE_INDEX]  # -1 = no class -> ignored by the loss
    assert batch["regression_labels"].dtype == torch.float32
    assert batch["regression_labels"].shape == (2, 2)
    assert torch.isnan(batch["regression_labels"][1, 0])
    assert batch["regression_labels"][1, 1] == 0.75
    no_labels = SERDataCollator(feature_extractor, label_column=None)(rows)
    assert "labels" not in no_labels
    assert "regression_labels" not in no_labels


def test_random_crop_only_in_training_mode(feature_extractor):
    clip = np.arange(32000, dtype=np.float32) / 32000
    collator = SERDataCollator(feature_extractor, max_length_seconds=0.5, seed=0)
    collator.feature_extractor = type(feature_extractor)(return_attention_mask=True, do_normalize=False)
    crops = []
    for epoch in range(3):
        collator.epoch = epoch
        crops.append(collator(_rows([clip], [0]))["input_values"][0])
    assert all(crop.shape == (8000,) for crop in crops)
    starts = [round(float(crop[0]) * 32000) for crop in crops]
    assert len(set(starts)) > 1  # random windows, new ones each epoch ...
    collator.epoch = 0  # ... reproducible: the same window again for the same epoch and clip
    torch.testing.assert_close(collator(_rows([clip], [0]))["input_values"][0], crops[0])
    for crop, start in zip(crops, starts, strict=True):  # ... of the original clip
        torch.testing.assert_close(crop, torch.from_numpy(clip[start : start + 8000]))
    evaluation = collator.eval()
    assert evaluation.training is False
    assert collator.training is True
    full = evaluation(_rows([clip], [0]))["input_values"][0]
    torch.testing.assert_close(full, torch.from_numpy(clip))  # never cropped in eval mode
    start_crop = SERDataCollator(collator.feature_extractor, max_length_seconds=0.5, random_crop=False)
    torch.testing.assert_close(
        start_crop(_rows([clip], [0]))["input_values"][0], torch.from_numpy(clip[:8000])
    )
    with pytest.raises(ValueError, match="max_length_seconds must be positive"):
        SERDataCollator(feature_extractor, max_length_seconds=0)


def test_missing_audio_column_error(feature_extractor):
    with pytest.raises(ValueError, match="Row has no 'audio' column; columns: \\['label'\\]"):
        SERDataCollator(feature_extractor)([{"label": 0}])


def _padding_share(lengths: np.ndarray, order, batch_size: int) -> float:
    batches = [lengths[order[i : i + batch_size]] for i in range(0, len(order), batch_size)]
    return sum(b.max() * len(b) - b.sum() for b in batches) / sum(b.max() * len(b) for b in batches)


def test_length_column_and_grouped_sampler(data_dir):
    urdu = load_corpus("urdu", data_dir / "urdu")
    with_lengths = add_length_column(urdu)
    expected = [load_audio(value["path"]).size for value in urdu["audio"][:5]]
    assert [abs(a - b) <= 1 for a, b in zip(with_lengths["length"][:5], expected, strict=True)] == [True] * 5
    order = list(length_grouped_sampler(with_lengths, batch_size=4, seed=0))
    assert sorted(order) == list(range(400))
    lengths = np.asarray(with_lengths["length"])
    grouped = _padding_share(lengths, order, 4)
    shuffled = _padding_share(lengths, np.random.default_rng(0).permutation(400), 4)
    assert grouped < 0.5 * shuffled  # far less padding than random batches
    with pytest.raises(ValueError, match="add_length_column"):
        length_grouped_sampler(urdu, batch_size=8)


def test_trainer_uses_the_length_column(data_dir, tmp_path):
    from transformers import Trainer, TrainingArguments

    urdu = add_length_column(load_corpus("urdu", data_dir / "urdu").select(range(0, 400, 20)))
    args = TrainingArguments(
        output_dir=str(tmp_path), train_sampling_strategy="group_by_length", length_column_name="length",
        per_device_train_batch_size=4, use_cpu=True, report_to=[],
    )  # fmt: skip
    trainer = Trainer(model=torch.nn.Linear(1, 1), args=args, train_dataset=urdu)
    sampler = trainer._get_train_sampler()
    assert type(sampler).__name__ == "LengthGroupedSampler"
    assert list(sampler.lengths) == list(urdu["length"])

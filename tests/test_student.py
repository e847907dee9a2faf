"""Wav2Small-style student: size budget, in-model log-mel, masking, heads, save/load, errors."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, Wav2Vec2FeatureExtractor

from hf_ser import SERModelOutput, Wav2SmallConfig, Wav2SmallForAudioClassification


def build(seed: int = 0, **config) -> Wav2SmallForAudioClassification:
    torch.manual_seed(seed)
    return Wav2SmallForAudioClassification(Wav2SmallConfig(**config)).eval()


@pytest.fixture(scope="module")
def raw_batch(emodb_clips):
    extractor = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
    return extractor(
        emodb_clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


@pytest.mark.parametrize("task", ["classification", "regression", "multitask"])
def test_at_most_72k_parameters(task):
    labels = {"num_labels": 8} if task != "regression" else {}
    count = sum(p.numel() for p in build(task=task, **labels).parameters())
    print(f"Wav2Small-style student ({task}, 8 classes / 3 targets): {count} parameters")
    assert 40_000 < count <= 72_000


def test_log_mel_front_end_matches_librosa(emodb_clips):
    model = build(normalize_waveform=False)
    clip = emodb_clips[0]
    log_mel, frame_lengths = model.front_end(torch.from_numpy(clip)[None], torch.tensor([len(clip)]))
    mel = librosa.feature.melspectrogram(
        y=clip,
        sr=16000,
        n_fft=512,
        win_length=400,
        hop_length=160,
        n_mels=40,
        fmin=20.0,
        htk=True,
        pad_mode="constant",
    )
    reference = np.log(mel + 1e-6)
    reference = (reference - reference.mean(1, keepdims=True)) / np.sqrt(
        reference.var(1, keepdims=True) + 1e-5
    )
    assert int(frame_lengths) == 1 + len(clip) // 160 == reference.shape[1]
    np.testing.assert_allclose(log_mel[0].numpy(), reference.T, atol=1e-3)


@pytest.mark.parametrize("task", ["regression", "multitask"])
def test_padded_batch_equals_single_clip(raw_batch, task):
    model = build(task=task, num_labels=4) if task == "multitask" else build(task=task)
    with torch.no_grad():
        batched = model(**raw_batch)
        for row, length in enumerate(raw_batch["attention_mask"].sum(-1).tolist()):
            alone = model(input_values=raw_batch["input_values"][row : row + 1, :length])
            torch.testing.assert_close(batched.logits[row], alone.logits[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(batched.regression[row], alone.regression[0], atol=1e-5, rtol=0)
    frames = model.frame_lengths(raw_batch["attention_mask"].sum(-1))
    for row, length in enumerate(frames.tolist()):
        assert torch.all(batched.frame_weights[row, length:] == 0)
        assert batched.frame_weights[row, :length].sum().item() == pytest.approx(1.0, abs=1e-5)


def test_outputs_losses_and_gradients(raw_batch):
    model = build(task="multitask", num_labels=4).train()
    output = model(**raw_batch, labels=torch.tensor([0, 1, 2, 3]), regression_labels=torch.rand(4, 3))
    assert isinstance(output, SERModelOutput)
    assert output.logits.shape == (4, 4)
    assert output.regression.shape == (4, 3)
    assert output.pooled.shape == (4, 64)
    output.loss.backward()
    assert model.blocks[0].conv.weight.grad.abs().sum() > 0
    assert all(buffer.grad is None for buffer in model.front_end.buffers())


def test_save_and_load_rebuilds_front_end(raw_batch, emodb_clips, tmp_path):
    model = build()
    model.save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True).save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded, Wav2SmallForAudioClassification)
    assert loaded.config.id2label == {0: "arousal", 1: "dominance", 2: "valence"}
    torch.testing.assert_close(loaded.front_end.mel, model.front_end.mel)
    inputs = extractor(
        emodb_clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**raw_batch).logits, atol=1e-6, rtol=0)


def test_input_errors():
    model = build()
    with pytest.raises(ValueError, match="at least 480"):
        model(torch.zeros(1, 300))
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        model(torch.zeros(1, 1, 16000))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_pooling": [2, 3, 1, 1]}, "must be 1 or 2"),
        ({"conv_channels": [8, 8]}, "same length"),
        ({"n_mels": 8}, "n_mels >= 16"),
        ({"f_max": 12000}, "f_max"),
        ({"task": "classification"}, "needs class labels"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Wav2SmallConfig(**kwargs)

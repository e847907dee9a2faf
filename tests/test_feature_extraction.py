"""MfccChromaFeatureExtractor: librosa-equal features, padding and masks, normalisation, save/load, errors."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from transformers import AutoFeatureExtractor

import hf_ser  # noqa: F401  (registers the Auto classes)
from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor


def test_matches_librosa_mfcc_and_chroma(emodb_clips):
    extractor = MfccChromaFeatureExtractor(normalization="none")
    clip = emodb_clips[1]
    features = extractor.extract(clip)
    mfcc = librosa.feature.mfcc(y=clip, sr=16000, n_mfcc=34, n_fft=1024, hop_length=256, n_mels=128)
    chroma = librosa.feature.chroma_stft(y=clip, sr=16000, n_fft=1024, hop_length=256, tuning=0.0)
    assert features.shape == (1 + len(clip) // 256, 46) == (mfcc.shape[1], 46)
    np.testing.assert_allclose(features[:, :34], mfcc.T, atol=2e-3 * np.abs(mfcc).max())
    np.testing.assert_allclose(features[:, 34:], chroma.T, atol=1e-4)


def test_batch_shapes_mask_and_padding_invariance(emodb_clips):
    extractor = MfccChromaFeatureExtractor()
    batch = extractor(emodb_clips, sampling_rate=16000, padding=True, return_tensors="pt")
    lengths = [1 + len(clip) // 256 for clip in emodb_clips]
    assert batch["input_values"].shape == (4, max(lengths), 46)
    assert batch["input_values"].dtype.is_floating_point
    assert batch["input_values"].element_size() == 4
    assert batch["attention_mask"].sum(-1).tolist() == lengths
    for row, clip in enumerate(emodb_clips):
        alone = extractor(clip, sampling_rate=16000, return_tensors="np")["input_values"][0]
        np.testing.assert_allclose(batch["input_values"][row, : lengths[row]].numpy(), alone, atol=1e-6)
        assert float(batch["input_values"][row, lengths[row] :].abs().sum()) == 0.0


def test_utterance_normalisation_standardises_each_feature(emodb_clips):
    features = MfccChromaFeatureExtractor().extract(emodb_clips[0])
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(features.std(axis=0), 1.0, atol=1e-3)


def test_global_normalisation_fit_save_and_load(emodb_clips, tmp_path):
    extractor = MfccChromaFeatureExtractor().fit_global_normalization(emodb_clips)
    assert extractor.normalization == "global"
    assert len(extractor.mean) == len(extractor.std) == 46
    stacked = np.concatenate([extractor.extract(clip) for clip in emodb_clips])
    np.testing.assert_allclose(stacked.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(stacked.std(axis=0), 1.0, atol=1e-3)
    extractor.save_pretrained(tmp_path)
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded, MfccChromaFeatureExtractor)
    np.testing.assert_array_equal(loaded.extract(emodb_clips[2]), extractor.extract(emodb_clips[2]))


def test_max_length_truncates_and_pads_in_samples(emodb_clips):
    extractor = MfccChromaFeatureExtractor()
    batch = extractor(
        emodb_clips, sampling_rate=16000, padding="max_length", max_length=12000, truncation=True
    )
    assert np.asarray(batch["input_values"]).shape == (4, 1 + 12000 // 256, 46)
    expected = [1 + min(len(clip), 12000) // 256 for clip in emodb_clips]
    assert np.asarray(batch["attention_mask"]).sum(-1).tolist() == expected
    assert max(len(clip) for clip in emodb_clips) > 12000  # truncation was exercised


@pytest.mark.parametrize(
    ("audio", "kwargs", "message"),
    [
        (np.zeros(100, np.float32), {"sampling_rate": 8000}, "8000 Hz"),
        (np.array([0.0, np.nan], np.float32), {}, "NaN"),
        (np.zeros(0, np.float32), {}, "empty"),
        ([np.zeros((2, 100), np.float32)], {}, "mono"),
    ],
)
def test_bad_audio_errors(audio, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MfccChromaFeatureExtractor()(audio, **kwargs)


def test_config_errors():
    with pytest.raises(ValueError, match="'zscore'.*utterance, global, none"):
        MfccChromaFeatureExtractor(normalization="zscore")
    with pytest.raises(ValueError, match="n_mels"):
        MfccChromaFeatureExtractor(n_mels=20)
    with pytest.raises(ValueError, match="fit_global_normalization"):
        MfccChromaFeatureExtractor(normalization="global")


def test_frame_computation_limits_blas_to_one_thread(monkeypatch, emodb_clips):
    from threadpoolctl import threadpool_info

    import hf_ser.models.feature_extraction_mfcc_chroma as module

    seen = []
    compute = MfccChromaFeatureExtractor._compute_raw_features

    def spy(self, waveform):
        seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
        return compute(self, waveform)

    monkeypatch.setattr(MfccChromaFeatureExtractor, "_compute_raw_features", spy)
    before = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    MfccChromaFeatureExtractor().extract(emodb_clips[0])
    assert seen == [{1}]
    assert {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"} == before
    assert module._THREADPOOL_CONTROLLER
    assert module._THREADPOOL_CONTROLLER[0] is not None

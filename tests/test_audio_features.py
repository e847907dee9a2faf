"""hf_ser.models.audio_features: numpy only, batch = alone, blocks invisible, student log-mel equal."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from hf_ser.models import audio_features
from hf_ser.models.audio_features import LogMelSettings, MfccChromaSettings


def test_module_imports_numpy_only():
    code = (
        "import sys, importlib.util, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "spec = importlib.util.spec_from_file_location('audio_features', path)\n"
        "module = sys.modules['audio_features'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.mfcc_chroma(__import__('numpy').zeros(4000, 'float32'))\n"
        "print(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, audio_features.__file__], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_batch_equals_alone_and_block_size_is_invisible(emodb_clips):
    settings = MfccChromaSettings()
    clips = [emodb_clips[0], emodb_clips[1][:700], emodb_clips[2], np.zeros(50, np.float32)]
    batch = audio_features.mfcc_chroma_batch(clips, settings)
    projection = audio_features.mfcc_chroma_projection(settings)
    for clip, features in zip(clips, batch, strict=True):
        assert features.shape == (1 + len(clip) // 256, 46) and features.dtype == np.float32
        np.testing.assert_array_equal(features, audio_features.mfcc_chroma(clip, settings))
        small_blocks = audio_features.project_power([clip], 1024, 256, projection, block_frames=7)[0]
        one_block = audio_features.project_power([clip], 1024, 256, projection, block_frames=4096)[0]
        np.testing.assert_allclose(small_blocks, one_block, rtol=1e-5, atol=1e-8)


def test_empty_batch():
    assert audio_features.mfcc_chroma_batch([], MfccChromaSettings()) == []


def test_silence_gives_finite_features():
    features = audio_features.mfcc_chroma(np.zeros(16000, np.float32))
    assert np.isfinite(features).all() and not features[:, 34:].any()


def test_filter_banks_are_cached_and_read_only():
    settings = MfccChromaSettings()
    first = audio_features.mfcc_chroma_projection(settings)
    assert audio_features.mfcc_chroma_projection(MfccChromaSettings()) is first
    with pytest.raises(ValueError):
        first[0, 0] = 1.0


def test_log_mel_matches_the_student_front_end(emodb_clips):
    from hf_ser import Wav2SmallConfig
    from hf_ser.models.modeling_student import LogMelFrontEnd, masked_standardize

    config = Wav2SmallConfig()
    front_end = LogMelFrontEnd(config).eval()
    front_end.normalize_waveform = False
    clip = emodb_clips[1]
    settings = LogMelSettings(
        n_fft=config.n_fft, win_length=config.win_length, hop_length=config.hop_length,
        n_mels=config.n_mels, f_min=config.f_min, f_max=config.f_max,
    )  # fmt: skip
    log_mel = torch.from_numpy(audio_features.log_mel_batch([clip], settings)[0])[None]
    with torch.no_grad():
        expected, _ = front_end(torch.from_numpy(clip)[None], torch.tensor([len(clip)]))
    ours = masked_standardize(log_mel, torch.ones(1, log_mel.shape[1], 1), dim=1)
    torch.testing.assert_close(ours, expected, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(("normalization", "message"), [("zscore", "'zscore'"), ("global", "mean and std")])
def test_normalize_errors(normalization, message):
    with pytest.raises(ValueError, match=message):
        audio_features.normalize_features(np.zeros((3, 2), np.float32), normalization)

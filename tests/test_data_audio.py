"""Tests for hf_ser.data.audio (decoding, conversion, validation) and lazy decoding of corpora."""

from __future__ import annotations

import importlib.util
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import require_system_package
from corpus_fixtures import write_clip

from hf_ser.data import (
    AudioError,
    audio_duration,
    decode_example_audio,
    load_audio,
    load_corpus,
    prepare_audio,
    validate_audio,
    with_decoded_audio,
)


def test_int16_pcm_is_scaled_and_stereo_mixed_in_both_layouts():
    left = np.full(4800, 16384, dtype=np.int16)  # 0.5
    right = np.zeros(4800, dtype=np.int16)
    samples_first = np.stack([left, right], axis=1)  # (samples, channels), as soundfile returns
    for array in (samples_first, samples_first.T):  # and (channels, samples), as torch stores it
        mono = prepare_audio(array, 48000)
        assert mono.dtype == np.float32
        assert mono.shape == (1600,)
        np.testing.assert_allclose(mono[100:-100], 0.25, atol=1e-3)


def test_other_integer_formats_and_no_resampling():
    np.testing.assert_allclose(
        prepare_audio(np.array([0, 128, 255], dtype=np.uint8), 16000), [-1.0, 0.0, 127 / 128]
    )
    np.testing.assert_allclose(prepare_audio(np.array([2**30], dtype=np.int32), 16000), [0.5])
    array = np.linspace(-1, 1, 100)
    np.testing.assert_array_equal(prepare_audio(array, 22050, None), array.astype(np.float32))


def test_integer_pcm_is_scaled_by_its_dtype_range():
    """int8/16/32 by their range, unsigned centred, int64 as 32-bit PCM when it fits, else rejected."""
    for dtype, half in ((np.int8, 2**7), (np.int16, 2**15), (np.int32, 2**31), (np.int64, 2**31)):
        values = np.array([-half, 0, half // 2], dtype=dtype)
        np.testing.assert_allclose(prepare_audio(values, 16000), [-1.0, 0.0, 0.5], err_msg=str(dtype))
    for dtype, half in ((np.uint8, 2**7), (np.uint16, 2**15), (np.uint32, 2**31), (np.uint64, 2**31)):
        values = np.array([0, half, half + half // 2], dtype=dtype)
        np.testing.assert_allclose(prepare_audio(values, 16000), [-1.0, 0.0, 0.5], err_msg=str(dtype))
    with pytest.raises(AudioError, match="dtype int64 has values outside the 32-bit range"):
        prepare_audio(np.array([0, 2**40], dtype=np.int64), 16000)
    with pytest.raises(AudioError, match="dtype uint64 has values outside the 32-bit range"):
        prepare_audio(np.array([0, 2**40], dtype=np.uint64), 16000)


def test_float_audio_far_above_one_warns_and_float32_overflow_is_named():
    with pytest.warns(UserWarning, match="peaks at 1.64e\\+04, far above 1.0: it looks like integer PCM"):
        prepare_audio(np.array([0.0, 16384.0, -3.0]), 16000)
    with pytest.raises(AudioError, match="peak of 1e\\+300, which overflows float32"):
        prepare_audio(np.array([0.0, 1e300]), 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare_audio(np.array([0.0, 2.0, -8.0]), 16000)  # clipping-level peaks: no warning


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (float("inf"), "finite number of Hz"),
        (float("nan"), "finite number of Hz"),
        (np.float32("nan"), "finite number of Hz"),
        (0, "outside the supported range"),
        (-16000, "outside the supported range"),
        (16000.5, "whole number of Hz"),
        (1e12, "outside the supported range"),
        (10**30, "outside the supported range"),
        (True, "positive integer"),
        (None, "positive integer"),
    ],
)
def test_every_bad_sampling_rate_is_an_audio_error(rate, message):
    with pytest.raises(AudioError, match=message):
        prepare_audio(np.zeros(100, dtype=np.float32), rate)
    np.testing.assert_array_equal(prepare_audio(np.zeros(8), np.float64(16000.0)), np.zeros(8))


def test_files_with_many_channels_are_downmixed(tmp_path):
    channels = np.random.default_rng(0).uniform(-0.5, 0.5, size=(1600, 64)).astype(np.float32)
    path = tmp_path / "ch64.wav"
    sf.write(str(path), channels, 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), channels.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(
        prepare_audio(channels, 16000, channel_axis=1), channels.mean(axis=1), atol=1e-6
    )


def test_resampling_matches_soxr_and_preserves_duration():
    array = np.sin(np.linspace(0, 300, 44100)).astype(np.float32)
    out = prepare_audio(array, 44100)
    np.testing.assert_array_equal(out, soxr.resample(array, 44100, 16000, quality="HQ"))
    assert out.shape == (16000,)


@pytest.mark.parametrize(
    ("array", "rate", "kwargs", "message"),
    [
        (np.zeros(0, np.float32), 16000, {}, "empty"),
        (np.array([0.0, np.nan], np.float32), 16000, {}, "NaN or Inf"),
        (np.array([0.0, np.inf]), 16000, {}, "NaN or Inf"),
        (np.zeros(100), 0, {}, "sampling_rate=0"),
        (np.zeros(100), 16000.5, {}, "whole number"),
        (np.zeros(100), "16k", {}, "positive integer"),
        (np.zeros((2, 2, 2)), 16000, {}, "shape"),
        (np.zeros(16000 * 3), 16000, {"max_seconds": 2}, "max_seconds=2"),
        (np.array(["a"]), 16000, {}, "dtype"),
    ],
)
def test_validate_audio_errors_name_the_problem(array, rate, kwargs, message):
    with pytest.raises(AudioError, match=message):
        validate_audio(array, rate, **kwargs)
    with pytest.raises(ValueError, match=message):  # AudioError is a ValueError
        prepare_audio(array, rate, **kwargs)


def test_ambiguous_multichannel_array_is_rejected():
    with pytest.raises(AudioError, match="Cannot tell samples from channels"):
        prepare_audio(np.zeros((100, 200)), 16000)


def test_load_audio_real_flac_and_formats(tmp_path, data_dir):
    path = data_dir / "emodb" / "03a01Fa.flac"
    native, rate = sf.read(str(path), dtype="float32")
    np.testing.assert_array_equal(load_audio(path, None), native)
    resampled = load_audio(path)
    assert resampled.dtype == np.float32
    assert resampled.shape == (32000,)  # 2.0 s at 16 kHz
    assert audio_duration(path) == pytest.approx(2.0)
    for suffix, subtype in ((".wav", "PCM_16"), (".wav", "PCM_U8"), (".ogg", "VORBIS"), (".flac", "PCM_24")):
        clip = write_clip(tmp_path / f"clip_{subtype}{suffix}", seconds=0.5, sampling_rate=8000, channels=2,
                          subtype=subtype)  # fmt: skip
        audio = load_audio(clip)
        assert audio.shape == (8000,)
        assert 0.4 < np.abs(audio).max() < 0.6
    assert load_audio(path.read_bytes()).shape == (32000,)  # bytes work too


def test_load_audio_errors_name_the_path(tmp_path):
    with pytest.raises(AudioError, match="not found: .*missing.wav"):
        load_audio(tmp_path / "missing.wav")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really audio")
    with pytest.raises(AudioError, match="Could not decode audio .*broken.wav"):
        load_audio(broken)
    long_clip = write_clip(tmp_path / "long.wav", seconds=3.0)
    with pytest.raises(AudioError, match="long.wav is 3.0 s long"):
        load_audio(long_clip, max_seconds=1.0)
    silent = tmp_path / "nan.wav"
    sf.write(str(silent), np.array([0.0, np.nan, 0.0], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: Audio contains NaN"):
        load_audio(silent)


def test_decode_example_audio_accepts_dataset_values(data_dir):
    path = str(data_dir / "emodb" / "03a01Fa.flac")
    expected = load_audio(path)
    np.testing.assert_array_equal(decode_example_audio({"path": path, "bytes": None}), expected)
    with open(path, "rb") as handle:
        np.testing.assert_array_equal(decode_example_audio({"path": None, "bytes": handle.read()}), expected)
    decoded = {"array": load_audio(path, None), "sampling_rate": 22050}
    np.testing.assert_array_equal(decode_example_audio(decoded), expected)
    with pytest.raises(AudioError, match="neither"):
        decode_example_audio({"path": None, "bytes": None})


def test_with_decoded_audio_is_lazy_and_matches_load_audio(data_dir, monkeypatch):
    dataset = load_corpus("urdu", data_dir / "urdu")
    calls = []
    import hf_ser.data.decoding as decoding

    original = decoding.decode_audio_value
    monkeypatch.setattr(decoding, "decode_audio_value", lambda *a, **k: calls.append(1) or original(*a, **k))
    decoded = with_decoded_audio(dataset)
    assert calls == []  # nothing decoded up front
    row = decoded[3]
    assert calls == [1]
    np.testing.assert_array_equal(row["audio"]["array"], load_audio(dataset[3]["audio"]["path"]))
    assert row["audio"]["sampling_rate"] == 16000
    assert row["label"] == dataset[3]["label"]
    assert (
        with_decoded_audio(dataset, None)[3]["audio"]["sampling_rate"] == 44100
    )  # None keeps the native rate
    with pytest.raises(ValueError, match="Column 'wav'"):
        with_decoded_audio(dataset, column="wav")


def _torchcodec_works() -> bool:
    if shutil.which("ffmpeg") is None or importlib.util.find_spec("torchcodec") is None:
        return False
    try:
        import torchcodec.decoders  # noqa: F401  (loads the ffmpeg libraries)
    except (OSError, RuntimeError):
        return False
    return True


def test_torchcodec_decoding_gives_the_same_arrays(data_dir):
    """datasets' own decoding (torchcodec + ffmpeg) agrees with ours: identical at the native rate,
    equal up to the resampler (ffmpeg's vs soxr) at 16 kHz. Skipped without ffmpeg; CI installs it and
    sets HF_SER_REQUIRE_SYSTEM_PACKAGES=1, so it runs there."""
    require_system_package(_torchcodec_works(), ("ffmpeg",), "datasets' torchcodec decoding")
    import datasets

    dataset = load_corpus("urdu", data_dir / "urdu").select(range(0, 400, 100))
    ours_native = with_decoded_audio(dataset, None)
    ours_16k = with_decoded_audio(dataset)
    for rate, ours in ((None, ours_native), (16000, ours_16k)):
        theirs = dataset.cast_column("audio", datasets.Audio(sampling_rate=rate))
        for index in range(len(dataset)):
            samples = theirs[index]["audio"].get_all_samples()
            reference = samples.data.numpy().mean(axis=0)
            mine = ours[index]["audio"]["array"]
            assert reference.shape == mine.shape
            if rate is None:
                np.testing.assert_array_equal(reference, mine)
            else:
                assert samples.sample_rate == 16000
                assert np.corrcoef(reference, mine)[0, 1] > 0.999
                assert np.sqrt(np.mean((reference - mine) ** 2)) < 0.01
                assert np.abs(reference - mine)[200:-200].max() < 0.05  # filters differ at the edges

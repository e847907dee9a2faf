"""Tests of ``hf_ser.pipeline`` and its building blocks in ``hf_ser.inference``.

A tiny random hf_ser model (50 frames/s) is saved to a temporary directory and loaded back through the
real ``from_pretrained`` path; inputs are real EmoDB / URDU clips.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import TINY_BACKBONE_KWARGS, TINY_LABELS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_ser.data.audio import AudioError
from hf_ser.data.windows import ChunkingConfig, read_window
from hf_ser.inference.batching import length_sorted_batches
from hf_ser.inference.dtype import calibration_clips, choose_auto_dtype, parse_dtype, predictions_agree
from hf_ser.inference.inputs import UnsupportedInputError, normalize_inputs
from hf_ser.inference.pipeline import DEFAULT_MODEL_DIR, SERPipeline, pipeline

# 320x down-sampling (like wav2vec2): 50 frames per second keeps attention cheap on multi-second clips.
COARSE_FRAMES = {"conv_dim": (32, 32), "conv_kernel": (20, 16), "conv_stride": (20, 16)}
EMODB_CLIP = "03a01Nc.flac"  # 22.05 kHz
URDU_CLIPS = ["Angry/SM1_F10_A010.flac", "Happy/SF1_F10_H010.flac", "Sad/SF10_F1_S01.flac"]


@pytest.fixture(scope="module")
def multitask_dir(tiny_checkpoint) -> Path:
    return tiny_checkpoint(
        "multitask",
        backbone_overrides=COARSE_FRAMES,
        task="multitask",
        pooling="attentive_stats",
        initializer_range=0.5,  # spread the random logits so that top-1 is not a near tie
    )


@pytest.fixture(scope="module")
def pipe(multitask_dir) -> SERPipeline:
    return pipeline(str(multitask_dir), dtype="float32", batch_size=4)


@pytest.fixture(scope="module")
def clip_paths(data_dir) -> list[str]:
    paths = [str(data_dir / "urdu" / name) for name in URDU_CLIPS]
    paths += [str(data_dir / "emodb" / name) for name in ("03a01Wa.flac", "08a01Fd.flac")]
    return [path for path in paths if Path(path).is_file()]


def _close(first: dict, second: dict, atol: float = 1e-4) -> None:
    """Assert two pipeline results match: same label, scores and regression values within ``atol``."""
    assert first.get("label") == second.get("label")
    assert set(first) == set(second)
    for key, value in first.items():
        if key == "scores":
            assert first["scores"].keys() == second["scores"].keys()
            for label, score in value.items():
                assert abs(score - second["scores"][label]) < atol, (label, score, second["scores"][label])
        elif isinstance(value, float):
            assert abs(value - second[key]) < atol, (key, value, second[key])
        elif isinstance(value, np.ndarray):
            np.testing.assert_allclose(value, second[key], atol=atol, rtol=0)


# ----------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------
def test_multitask_output_has_label_scores_and_named_dimensions(pipe, clip_paths):
    result = pipe(clip_paths[0])
    assert list(result) == ["label", "scores", "arousal", "dominance", "valence"]
    scores = list(result["scores"].values())
    assert scores == sorted(scores, reverse=True)
    assert abs(sum(scores) - 1.0) < 1e-6
    assert result["label"] == next(iter(result["scores"]))
    assert set(result["scores"]) == {"anger", "happiness", "neutral", "sadness"}  # no A/D/V among classes
    assert all(isinstance(result[name], float) for name in ("arousal", "dominance", "valence"))


def test_top_k_keeps_the_most_likely_classes(pipe, clip_paths):
    full = pipe(clip_paths[0])
    top2 = pipe(clip_paths[0], top_k=2)
    assert list(top2["scores"]) == list(full["scores"])[:2]
    assert top2["label"] == full["label"]
    with pytest.raises(ValueError, match="top_k"):
        pipe(clip_paths[0], top_k=0)


def test_regression_model_returns_only_dimensions(tiny_checkpoint, emodb_clips):
    directory = tiny_checkpoint(task="regression", pooling="mean", backbone_overrides=COARSE_FRAMES)
    classify = pipeline(str(directory), dtype="float32")
    result = classify(emodb_clips[0], sampling_rate=16000)
    assert list(result) == ["arousal", "dominance", "valence"]
    with pytest.raises(ValueError, match="frame weights"):
        classify(emodb_clips[0], sampling_rate=16000, return_frame_weights=True)


def test_embeddings_and_frame_weights(pipe, emodb_clips):
    result = pipe(emodb_clips[1], sampling_rate=16000, return_embeddings=True, return_frame_weights=True)
    assert result["embedding"].shape == (64,)  # attentive statistics: mean || std of 32-dim frames
    weights = result["frame_weights"]
    assert weights.shape == (len(emodb_clips[1]) // 320,)
    assert abs(weights.sum() - 1.0) < 1e-4
    assert (weights > 0).all()


# ----------------------------------------------------------------------------------------------------
# Input kinds
# ----------------------------------------------------------------------------------------------------
def test_every_input_kind_gives_the_same_result(pipe, data_dir, tmp_path):
    from datasets import Audio, Dataset

    path = data_dir / "urdu" / URDU_CLIPS[0]
    native, rate = sf.read(str(path), dtype="float32")
    reference = pipe(str(path))
    stereo_int16 = (np.stack([native, native], axis=1) * 32767).astype(np.int16)
    variants = {
        "path object": pipe(path),
        "float array": pipe(native, sampling_rate=rate),
        "stereo int16": pipe(stereo_int16, sampling_rate=rate),
        "channels-first tensor": pipe(torch.from_numpy(stereo_int16.T.copy()), sampling_rate=rate),
        "dict": pipe({"array": native, "sampling_rate": rate}),
        "raw dict": pipe({"raw": native, "sampling_rate": rate}),
        "bytes": pipe(path.read_bytes()),
    }
    for name, result in variants.items():
        _close(reference, result, atol=2e-3 if "int16" in name or "tensor" in name else 1e-4), name
    listed = pipe([str(path), {"array": native, "sampling_rate": rate}])
    assert isinstance(listed, list)
    assert len(listed) == 2
    decoded = Dataset.from_dict({"audio": [str(path)] * 2}).cast_column("audio", Audio())
    from_dataset = pipe(decoded)
    assert len(from_dataset) == 2
    _close(reference, from_dataset[1])
    arrays = Dataset.from_dict({"sound": [{"array": native, "sampling_rate": rate}]})
    _close(reference, pipe(arrays, audio_column="sound")[0])
    with pytest.raises(AudioError, match="no audio column"):
        pipe(arrays)


def test_batched_equals_one_at_a_time_in_input_order(pipe, clip_paths, emodb_clips):
    inputs = clip_paths + [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips]
    batched = pipe(inputs, batch_size=3, return_embeddings=True, return_frame_weights=True)
    assert len(batched) == len(inputs)
    for item, result in zip(inputs, batched, strict=True):
        _close(pipe(item, batch_size=1, return_embeddings=True, return_frame_weights=True), result, atol=1e-4)


def test_length_sorted_batches():
    lengths = [5, 100, 7, 90, 6, 90]
    batches = length_sorted_batches(lengths, batch_size=2)
    assert batches == [[1, 3], [5, 2], [4, 0]]
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    assert length_sorted_batches(lengths, 4, equal_lengths=True) == [[1], [3, 5], [2], [4], [0]]
    with pytest.raises(ValueError, match="batch_size"):
        length_sorted_batches(lengths, 0)


def test_group_norm_backbones_batch_by_length_exactly(tmp_path, tiny_ser_model, feature_extractor):
    model = tiny_ser_model(backbone_overrides={**COARSE_FRAMES, "feat_extract_norm": "group"})
    classify = pipeline(model, feature_extractor=feature_extractor, dtype="float32")
    assert not classify.backend.equal_length_batches  # the masked feature encoder makes padding exact
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (4000, 6000, 4000)]
    batched = classify([{"array": c, "sampling_rate": 16000} for c in clips])
    for clip, result in zip(clips, batched, strict=True):
        _close(classify(clip, sampling_rate=16000), result, atol=1e-5)


def test_model_object_needs_its_feature_extractor(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(backbone_overrides=COARSE_FRAMES)
    with pytest.raises(ValueError, match="feature_extractor"):
        pipeline(model)
    classify = pipeline(model, feature_extractor=feature_extractor, dtype="float32")
    assert classify(emodb_clips[0], sampling_rate=16000)["label"] in set(TINY_LABELS.values())


def test_transformers_models_and_pipeline_agree_with_ours(tiny_checkpoint, emodb_clips):
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification
    from transformers import pipeline as hf_pipeline

    torch.manual_seed(0)
    config = Wav2Vec2Config(**{**TINY_BACKBONE_KWARGS, **COARSE_FRAMES}, num_labels=3)
    directory = tiny_checkpoint(model=Wav2Vec2ForSequenceClassification(config).eval())
    converted = pipeline(str(directory), dtype="float32")  # goes through hf_ser.convert_checkpoint
    assert type(converted.model).__name__ == "SERModelForAudioClassification"
    ours = converted(emodb_clips[0], sampling_rate=16000, return_embeddings=True)
    assert ours["embedding"].shape == (32,)  # masked mean of the 32-dim frames
    theirs = hf_pipeline("audio-classification", model=str(directory), top_k=None)(emodb_clips[0])
    assert ours["label"] == theirs[0]["label"]
    for row in theirs:
        assert abs(ours["scores"][row["label"]] - row["score"]) < 1e-4


# ----------------------------------------------------------------------------------------------------
# Long audio
# ----------------------------------------------------------------------------------------------------
def test_chunking_windows_and_settings():
    config = ChunkingConfig.from_seconds(1.0, 0.25, 16000)
    assert (config.chunk_samples, config.hop_samples) == (16000, 8000)
    windows = config.windows(40000)
    assert windows == [(0, 16000), (8000, 24000), (16000, 32000), (24000, 40000)]
    assert config.windows(100) == [(0, 100)]
    for chunk, stride in ((0.0, None), (1.0, 0.5), (1.0, -0.1), ("1", None), (float("nan"), None)):
        with pytest.raises(ValueError):
            ChunkingConfig.from_seconds(chunk, stride, 16000)


@pytest.mark.parametrize("corpus", ["urdu", "emodb"])
def test_read_window_matches_decoding_the_whole_file(data_dir, corpus):
    """44.1 kHz (URDU) and 22.05 kHz (EmoDB, where a window start is not a whole number of native
    samples: the read must start on a sample shared by both rates, or the window is shifted)."""
    from hf_ser.data.audio import load_audio

    path = (
        str(data_dir / "urdu" / URDU_CLIPS[1]) if corpus == "urdu" else str(data_dir / "emodb" / EMODB_CLIP)
    )
    whole = load_audio(path)
    for start in (4000, 8000, 12345):
        window = read_window(path, start, start + 8000, 16000)
        assert window.shape == (8000,)
        np.testing.assert_allclose(window, whole[start : start + 8000], atol=2e-3)
    tail = read_window(path, len(whole) - 100, len(whole) + 50, 16000)  # past the end: zero-padded
    assert tail.shape == (150,)


def test_chunked_long_file_gives_segments_and_aggregate(pipe, data_dir, tmp_path):
    from hf_ser.data.audio import load_audio

    pieces = [load_audio(data_dir / "emodb" / name, 44100) for name in ("03a01Wa.flac", "03a01Nc.flac")]
    long_path = tmp_path / "long.flac"
    sf.write(long_path, np.concatenate(pieces * 2), 44100)  # ~8 s at 44.1 kHz
    result = pipe(str(long_path), chunk_length_s=2.0, stride_length_s=0.25, return_embeddings=True)
    segments = result["segments"]
    assert segments[0]["start"] == 0.0
    assert segments[-1]["end"] == pytest.approx(8.0, abs=0.01)
    assert all(seg["end"] - seg["start"] == pytest.approx(2.0, abs=1e-3) for seg in segments)
    assert [seg["start"] for seg in segments] == sorted(seg["start"] for seg in segments)
    mean_scores = {k: np.mean([s["scores"][k] for s in segments]) for k in result["scores"]}
    for label, score in result["scores"].items():
        assert score == pytest.approx(mean_scores[label], abs=1e-6)
    assert result["arousal"] == pytest.approx(np.mean([s["arousal"] for s in segments]), abs=1e-6)
    assert result["embedding"].shape == (64,)
    windows = {"chunk_length_s": 2.0, "stride_length_s": 0.25}
    in_memory = pipe(load_audio(long_path), sampling_rate=16000, return_embeddings=True, **windows)
    assert [s["label"] for s in in_memory["segments"]] == [s["label"] for s in segments]
    for ours, theirs in zip(in_memory["segments"], segments, strict=True):
        _close(ours, theirs, atol=1e-3)


# ----------------------------------------------------------------------------------------------------
# Precision
# ----------------------------------------------------------------------------------------------------
def test_dtype_parsing_and_calibration_rule():
    assert parse_dtype("bf16") == "bfloat16"
    assert parse_dtype(torch.float32) == "float32"
    with pytest.raises(ValueError, match="Unknown dtype"):
        parse_dtype("int8")
    reference = {"class_logits": np.array([[1.0, 0.0], [0.0, 1.0]]), "regression": np.array([[0.5], [0.2]])}
    assert predictions_agree(reference, {**reference, "regression": np.array([[0.51], [0.2]])})
    assert not predictions_agree(reference, {**reference, "class_logits": np.array([[0.0, 1.0], [0.0, 1.0]])})
    assert not predictions_agree(reference, {**reference, "class_logits": np.array([[1.0, 0.8], [0.0, 1.0]])})
    assert not predictions_agree(reference, {**reference, "regression": np.array([[0.6], [0.2]])})
    clips = calibration_clips(16000)
    assert len(clips) == 6
    assert all(clip.dtype == np.float32 for clip in clips)
    assert all(clip.ndim == 1 for clip in clips)
    assert sorted({round(len(clip) / 16000, 1) for clip in clips})[0] == 1.0
    seen = []

    def run_clip(clip, precision):
        seen.append(precision)
        return reference if precision == "float32" or len(seen) < 6 else {**reference, "regression": -1}

    assert choose_auto_dtype(lambda clip, precision: reference, clips) == "bfloat16"
    assert choose_auto_dtype(run_clip, clips) == "float32"


def test_auto_dtype_is_decided_once_before_any_user_clip(multitask_dir, pipe, clip_paths, monkeypatch):
    from hf_ser.inference import backends

    auto = pipeline(str(multitask_dir), dtype="auto", backend="torch")  # torch's bf16 rule
    calls = []
    monkeypatch.setattr(
        backends, "calibration_clips", lambda rate: calls.append(rate) or calibration_clips(rate)
    )
    precision = auto.dtype
    assert precision in ("bfloat16", "float32")
    assert calls == [16000]
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():  # no bf16 on this CPU: auto resolves to fp32
        assert precision == "float32"
    first = auto(clip_paths, batch_size=2)
    again = auto(clip_paths[::-1], batch_size=3)[::-1]
    for one, other in zip(first, again, strict=True):
        _close(one, other, atol=1e-5 if precision == "float32" else 1e-3)
    assert (
        pipeline(auto.model, feature_extractor=auto.backend.feature_extractor, backend="torch").dtype
        == precision
    )
    assert calls == [16000]  # cached per model object: no second calibration
    assert pipeline(str(multitask_dir), dtype="float32").dtype == "float32"


# ----------------------------------------------------------------------------------------------------
# Bad inputs
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inputs", "kwargs", "error", "message"),
    [
        (np.zeros(0, np.float32), {"sampling_rate": 16000}, AudioError, "empty"),
        (np.array([0.1, np.nan] * 800, np.float32), {"sampling_rate": 16000}, AudioError, "NaN"),
        (np.array([0.1, np.inf] * 800, np.float32), {"sampling_rate": 16000}, AudioError, "NaN or Inf"),
        (np.zeros(1600, np.float32), {"sampling_rate": 0}, AudioError, "sampling_rate"),
        (np.zeros(1600, np.float32), {"sampling_rate": -16000}, AudioError, "sampling_rate"),
        (np.zeros(1600, np.float32), {}, AudioError, "sampling rate is required"),
        ({"array": np.zeros(1600)}, {}, AudioError, "sampling rate is required"),
        ({"audio": 1}, {}, AudioError, "dict input needs"),
        ("/no/such/file.wav", {}, AudioError, "not found"),
        ([], {}, AudioError, "Empty list"),
        ([0.1, 0.2, 0.3], {"sampling_rate": 16000}, UnsupportedInputError, "ambiguous"),
        (42, {}, UnsupportedInputError, "unsupported input type int"),
        ({1, 2}, {}, UnsupportedInputError, "unsupported input type set"),
        (b"", {}, AudioError, "empty bytes"),
        (b"RIFF not really a wav", {}, AudioError, "decode"),
        (np.array(["a", "b"]), {"sampling_rate": 16000}, AudioError, "dtype"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_problem(pipe, inputs, kwargs, error, message):
    with pytest.raises(error, match=message) as caught:
        pipe(inputs, **kwargs)
    assert isinstance(caught.value, ValueError)


def test_unreadable_file_is_named(pipe, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_text("this is not audio")
    with pytest.raises(AudioError, match="broken.wav"):
        pipe(str(bad))


def test_errors_return_puts_an_error_entry_in_place_of_each_bad_item(pipe, clip_paths, emodb_clips, tmp_path):
    """``errors="return"``: bad items (failing at input time or while decoded mid-batch) become
    ``{"error", "input"}`` entries (path, else position); good items give the same results as alone."""
    nan_file = tmp_path / "nan.wav"
    sf.write(str(nan_file), np.full(4000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    bad_array = np.array([0.0, np.inf] * 2000, dtype=np.float32)
    inputs = [clip_paths[0], str(nan_file), emodb_clips[0], "/no/such.wav", bad_array, clip_paths[1]]
    results = pipe(inputs, sampling_rate=16000, errors="return", batch_size=4)
    assert results[1] == {"error": f"{nan_file}: Audio contains NaN or Inf values.", "input": str(nan_file)}
    assert results[3]["input"] == "/no/such.wav" and "not found" in results[3]["error"]
    assert results[4]["input"] == 4 and "NaN or Inf" in results[4]["error"]
    good = pipe([clip_paths[0], emodb_clips[0], clip_paths[1]], sampling_rate=16000)
    for result, expected in zip([results[0], results[2], results[5]], good, strict=True):
        _close(result, expected)
    assert pipe(str(nan_file), errors="return")["input"] == str(nan_file)
    with pytest.raises(AudioError, match="not found"):  # the default: the first bad item raises
        pipe(inputs, sampling_rate=16000)
    with pytest.raises(ValueError, match="errors='ignore' is not one of"):
        pipe(clip_paths[0], errors="ignore")


def test_very_short_clip_is_padded_with_a_warning(pipe):
    with pytest.warns(UserWarning, match="zero-padded to 0.1 s"):
        result = pipe(np.full(200, 0.1, np.float32), sampling_rate=16000)
    assert "label" in result


def test_normalize_inputs_reads_only_file_headers(clip_paths):
    sources, single = normalize_inputs(clip_paths[:2])
    assert not single
    assert all(source.array is None for source in sources)
    assert all(source.path for source in sources)
    assert sources[0].num_samples > 0


@st.composite
def audio_inputs(draw):
    """Arrays of random dtype/shape/rate (often invalid), or non-audio values."""
    kind = draw(st.sampled_from(["array", "garbage"]))
    if kind == "garbage":
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans())), {}
    dtype = draw(st.sampled_from([np.int16, np.int32, np.uint8, np.float32, np.float64]))
    length = draw(st.integers(0, 3000))
    channels = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (length,) if channels is None else draw(st.sampled_from([(length, channels), (channels, length)]))
    values = draw(st.sampled_from(["zeros", "noise", "nan", "huge"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    array = rng.standard_normal(shape) * (1e30 if values == "huge" else 0.3)
    if values == "zeros":
        array = np.zeros(shape)
    if values == "nan" and array.size:
        array.flat[rng.integers(array.size)] = np.nan
    if np.issubdtype(dtype, np.integer):
        array = np.nan_to_num(array, posinf=0, neginf=0).clip(-1, 1) * np.iinfo(dtype).max
    array = array.astype(dtype)
    rate = draw(st.one_of(st.sampled_from([8000, 16000, 22050, 44100]), st.integers(-10, 10**6), st.none()))
    return array, {"sampling_rate": rate}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(audio_inputs())
def test_fuzzed_inputs_give_a_result_or_a_value_error(pipe, case):
    inputs, kwargs = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = pipe(inputs, **kwargs)
        except ValueError:
            return
    assert result["label"] in {"anger", "happiness", "neutral", "sadness"}
    assert all(np.isfinite(score) for score in result["scores"].values())


# ----------------------------------------------------------------------------------------------------
# Default model
# ----------------------------------------------------------------------------------------------------
def test_default_model_loads_offline_and_is_small(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = DEFAULT_MODEL_DIR / "model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size <= 2 * 1024 * 1024
    assert (DEFAULT_MODEL_DIR / "README.md").is_file()
    classify = pipeline()
    canonical = {"anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"}
    assert set(classify.id2label.values()) <= canonical
    examples = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
    assert len(examples) >= 2
    results = classify(examples)
    assert all(result["label"] in canonical for result in results)
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(8000, np.float32), 8000, format="WAV")
    assert classify(buffer.getvalue())["label"] in canonical


# ----------------------------------------------------------------------------------------------------
# ONNX backend
# ----------------------------------------------------------------------------------------------------
def test_onnx_backend_matches_torch(tiny_checkpoint, tmp_path, emodb_clips):
    from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor
    from hf_ser.export import to_onnx

    torch.manual_seed(0)
    model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=16, id2label=dict(TINY_LABELS))).eval()
    checkpoint = tiny_checkpoint("torch", model=model, extractor=MfccChromaFeatureExtractor())
    to_onnx(str(checkpoint), tmp_path / "onnx")
    inputs = [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips]
    expected = pipeline(str(checkpoint), dtype="float32")(inputs)
    onnx_pipe = pipeline(str(tmp_path / "onnx"), backend="onnx")
    assert onnx_pipe.dtype == "float32"
    for ours, reference in zip(onnx_pipe(inputs, batch_size=3), expected, strict=True):
        _close(ours, reference, atol=1e-4)
    with pytest.raises(ValueError, match="embeddings"):
        onnx_pipe(inputs[0], return_embeddings=True)
    with pytest.raises(ValueError, match="No model_quantized.onnx"):
        pipeline(str(tmp_path / "onnx"), backend="onnx", dtype="int8")
    with pytest.raises(ValueError, match="backend"):
        pipeline(str(checkpoint), backend="tensorflow")

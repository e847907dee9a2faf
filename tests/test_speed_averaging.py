"""Test-time speed augmentation: the averaging maths, the pipeline option and its default from the config."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hf_ser.data.audio import change_speed, load_audio
from hf_ser.inference.backends import ClipOutput
from hf_ser.inference.speed_averaging import average_outputs, check_test_time_speeds, mean_probability_logits
from hf_ser.training.finetune import average_predictions

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
CLIPS = sorted((DATA_DIR / "emodb").glob("*.flac"))[:3]


def softmax(values: np.ndarray) -> np.ndarray:
    exp = np.exp(values - values.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def test_speeds_are_checked_and_one_is_dropped():
    assert check_test_time_speeds(None) == ()
    assert check_test_time_speeds([]) == ()
    assert check_test_time_speeds([1.0, 0.9, 1.1]) == (0.9, 1.1)
    assert check_test_time_speeds(0.95) == (0.95,)
    for bad in ([0.0], [-1.0], ["fast"], [True]):
        with pytest.raises(ValueError, match="test_time_speeds"):
            check_test_time_speeds(bad)


def test_mean_probability_logits_softmax_is_the_mean_of_softmaxes():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(5, 7)) * 3 for _ in range(3)]
    averaged = mean_probability_logits(logits)
    assert averaged.shape == (5, 7)
    np.testing.assert_allclose(softmax(averaged), np.mean([softmax(v) for v in logits], 0), atol=1e-6)


def test_average_outputs_keeps_the_original_clips_embedding_and_weights():
    first = ClipOutput(np.array([2.0, 0.0]), np.array([0.2, 0.4]), np.ones(3), np.full(10, 0.1))
    other = ClipOutput(np.array([0.0, 2.0]), np.array([0.4, 0.0]), np.zeros(3), np.full(9, 1 / 9))
    merged = average_outputs([first, other])
    np.testing.assert_allclose(softmax(merged.class_logits), [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(merged.regression, [0.3, 0.2], atol=1e-6)
    assert merged.embedding is first.embedding
    assert merged.frame_weights is first.frame_weights


def test_average_predictions_of_each_task():
    rng = np.random.default_rng(1)
    logits = [rng.normal(size=(4, 3)) for _ in range(2)]
    values = [rng.normal(size=(4, 2)) for _ in range(2)]
    np.testing.assert_allclose(
        softmax(average_predictions(logits, "classification")),
        np.mean([softmax(v) for v in logits], 0),
        atol=1e-6,
    )
    np.testing.assert_allclose(average_predictions(values, "regression"), np.mean(values, 0))
    extra = [np.full(4, 7.0), np.full(4, 9.0)]  # outputs past the heads come from the first run
    merged = average_predictions([(logits[k], values[k], extra[k]) for k in range(2)], "multitask")
    assert isinstance(merged, tuple)
    assert len(merged) == 3
    np.testing.assert_allclose(softmax(merged[0]), np.mean([softmax(v) for v in logits], 0), atol=1e-6)
    np.testing.assert_allclose(merged[1], np.mean(values, 0))
    np.testing.assert_array_equal(merged[2], extra[0])


@pytest.fixture(scope="module")
def default_pipeline():
    from hf_ser import pipeline

    return pipeline(dtype="float32")


def test_pipeline_averages_the_clip_at_each_speed(default_pipeline):
    """``test_time_speeds=[0.9, 1.1]`` gives the mean of the probabilities of the clip played at 1.0, 0.9
    and 1.1 (each computed without augmentation), for single clips and batches alike."""
    pipe = default_pipeline
    assert pipe.test_time_speeds == (0.9, 1.1)  # the built-in model's config sets them (recipe v3-tta)
    arrays = [load_audio(path) for path in CLIPS]
    batched = pipe(arrays, sampling_rate=16000, test_time_speeds=[0.9, 1.1], batch_size=3)
    for array, result in zip(arrays, batched, strict=True):
        manual = [
            pipe(change_speed(array, 16000, speed), sampling_rate=16000, test_time_speeds=None)["scores"]
            for speed in (1.0, 0.9, 1.1)
        ]
        labels = list(manual[0])
        expected = np.mean([[scores[label] for label in labels] for scores in manual], axis=0)
        np.testing.assert_allclose([result["scores"][label] for label in labels], expected, atol=1e-5)
        single = pipe(array, sampling_rate=16000, test_time_speeds=[0.9, 1.1])
        assert single["scores"] == pytest.approx(result["scores"], abs=1e-5)
        assert pipe(array, sampling_rate=16000)["scores"] == pytest.approx(result["scores"], abs=1e-5)
        plain = pipe(array, sampling_rate=16000, test_time_speeds=None)["scores"]
        assert plain != pytest.approx(result["scores"], abs=1e-4)  # the option changes the prediction


def test_pipeline_takes_the_speeds_from_the_model_config(default_pipeline, tmp_path):
    from hf_ser import pipeline

    model = default_pipeline.model
    saved, model.config.test_time_speeds = model.config.test_time_speeds, [0.9, 1.1]
    try:
        model.save_pretrained(tmp_path)
    finally:
        model.config.test_time_speeds = saved
    default_pipeline.backend.feature_extractor.save_pretrained(tmp_path)
    pipe = pipeline(str(tmp_path), dtype="float32")
    assert pipe.test_time_speeds == (0.9, 1.1)
    with_config = pipe(str(CLIPS[0]))["scores"]
    explicit = default_pipeline(str(CLIPS[0]), test_time_speeds=[0.9, 1.1])["scores"]
    assert with_config == pytest.approx(explicit, abs=1e-6)
    assert pipeline(str(tmp_path), dtype="float32", test_time_speeds=None).test_time_speeds == ()
    with pytest.raises(ValueError, match="test_time_speeds"):
        pipe(str(CLIPS[0]), test_time_speeds=[0])


def test_config_validates_test_time_speeds():
    from hf_ser import LSTMSAConfig

    assert LSTMSAConfig(num_labels=3, test_time_speeds=(0.9, 1)).test_time_speeds == [0.9, 1.0]
    with pytest.raises(ValueError, match="test_time_speeds"):
        LSTMSAConfig(num_labels=3, test_time_speeds=[-0.9])

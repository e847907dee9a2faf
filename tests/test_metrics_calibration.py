"""hf_ser.metrics.calibration: ECE, temperature scaling (also over test-time variants)."""

from __future__ import annotations

import numpy as np
import pytest

from hf_ser.metrics.calibration import expected_calibration_error, fit_temperature, probabilities_at
from hf_ser.runtime.spec import arousal_from_categories


def test_ece_of_perfectly_calibrated_and_overconfident_predictions():
    labels = np.array([0, 0, 1, 1])
    assert expected_calibration_error(np.eye(2)[labels], labels) == 0.0
    wrong = np.eye(2)[1 - labels] * 0.9 + 0.05
    assert expected_calibration_error(wrong, labels) == pytest.approx(0.95)
    half = np.array([[0.5, 0.5], [0.5, 0.5]])  # confidence 0.5, accuracy 0.5 (argmax 0)
    assert expected_calibration_error(half, np.array([0, 1])) == pytest.approx(0.0)


def test_fit_temperature_recovers_the_temperature_of_the_data():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (4000, 4))
    probabilities = probabilities_at(logits, 1.0)
    labels = np.array([rng.choice(4, p=p) for p in probabilities])
    assert fit_temperature(3.0 * logits, labels) == pytest.approx(3.0, rel=0.1)
    variants = np.stack([3.0 * logits, 3.0 * logits])  # averaging identical variants changes nothing
    assert fit_temperature(variants, labels) == pytest.approx(fit_temperature(3.0 * logits, labels))
    with pytest.raises(ValueError, match="temperature"):
        probabilities_at(logits, 0.0)


def test_arousal_from_categories():
    labels = {0: "anger", 1: "neutral", 2: "sadness"}
    weights = {"anger": 1.0, "sadness": -1.0}
    assert arousal_from_categories(np.array([1.0, 0.0, 0.0]), labels, weights) == 1.0
    assert arousal_from_categories(np.array([0.0, 0.0, 1.0]), labels, weights) == 0.0
    assert arousal_from_categories(np.array([0.0, 1.0, 0.0]), labels, weights) == 0.5
    assert arousal_from_categories(np.array([1.0, 0.0, 0.0]), labels, None) is None

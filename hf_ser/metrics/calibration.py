"""Probability calibration: expected calibration error and temperature scaling (Guo et al., 2017).

Logits may carry a leading axis of test-time variants (e.g. the speeds of ``test_time_speeds``): the
probabilities are then the mean over that axis of ``softmax(logits / T)``, which is what
:func:`hf_ser.pipeline` and :mod:`hf_ser.runtime` compute for a model whose config holds ``temperature``.

Example:

```python
>>> import numpy as np
>>> from hf_ser.metrics.calibration import expected_calibration_error, fit_temperature
>>> rng = np.random.default_rng(0)
>>> labels = rng.integers(0, 3, 500)
>>> logits = 4.0 * np.eye(3)[labels] + rng.normal(0, 3, (500, 3))   # over-confident on purpose
>>> temperature = fit_temperature(logits, labels)
>>> bool(temperature > 1)
True
>>> before = expected_calibration_error(probabilities_at(logits, 1.0), labels)
>>> after = expected_calibration_error(probabilities_at(logits, temperature), labels)
>>> bool(after < before)
True

```
"""

from __future__ import annotations

import numpy as np


def probabilities_at(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)``, averaged over a leading variant axis when ``logits`` is 3-D."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}.")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    probabilities = np.exp(scaled)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    return probabilities.mean(axis=0) if probabilities.ndim == 3 else probabilities


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-log p(true class)`` (probabilities floored at 1e-12)."""
    chosen = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.maximum(chosen, 1e-12)).mean())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: ``sum_b |accuracy_b - confidence_b| * n_b / n`` over ``n_bins`` equal-width confidence bins.

    The confidence of a prediction is its top probability; bins are ``(k/n_bins, (k+1)/n_bins]``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(labels)
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        chosen = bins == b
        error += abs(correct[chosen].mean() - confidence[chosen].mean()) * chosen.sum()
    return float(error / max(len(labels), 1))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0, steps: int = 400
) -> float:
    """The temperature in ``[low, high]`` (log-spaced grid, then one finer grid) minimising the NLL."""
    grid = np.geomspace(low, high, steps)
    for _ in range(2):  # a coarse log-spaced grid, then a fine one around its best point
        losses = [negative_log_likelihood(probabilities_at(logits, t), labels) for t in grid]
        best = int(np.argmin(losses))
        chosen = float(grid[best])
        grid = np.geomspace(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)], steps // 4)
    return chosen


__all__ = ["expected_calibration_error", "fit_temperature", "negative_log_likelihood", "probabilities_at"]

"""Windows over long audio and their aggregation, as :mod:`hf_ser.inference.chunking` defines them.

Consecutive windows of ``chunk_length_s`` share ``stride_length_s`` (default ``chunk_length_s / 6``) on
each side; the last window is aligned to the end of the clip; window predictions are averaged weighted
by their duration.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np


def window_hop(
    chunk_length_s: float, stride_length_s: Optional[float], sampling_rate: int
) -> tuple[int, int]:
    """``(chunk_samples, hop_samples)`` for the user's settings, validated like the torch pipeline's."""
    if isinstance(chunk_length_s, bool) or not isinstance(chunk_length_s, (int, float)):
        raise ValueError(f"chunk_length_s must be a number of seconds, got {chunk_length_s!r}.")
    if not math.isfinite(chunk_length_s) or chunk_length_s < 0.1:
        raise ValueError(f"chunk_length_s must be a finite number >= 0.1 s, got {chunk_length_s!r}.")
    stride = chunk_length_s / 6 if stride_length_s is None else stride_length_s
    if not 0 <= 2 * stride < chunk_length_s:
        raise ValueError(
            f"stride_length_s must satisfy 0 <= 2 * stride_length_s < chunk_length_s, got {stride!r}."
        )
    chunk = int(round(chunk_length_s * sampling_rate))
    return chunk, max(1, chunk - 2 * int(round(stride * sampling_rate)))


def windows(num_samples: int, chunk_samples: int, hop_samples: int) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges covering ``[0, num_samples)``; the last one ends at the clip's end."""
    if num_samples <= chunk_samples:
        return [(0, num_samples)]
    starts = list(range(0, num_samples - chunk_samples, hop_samples))
    starts.append(num_samples - chunk_samples)
    return [(start, start + chunk_samples) for start in starts]


def aggregate(values: Sequence[np.ndarray], durations: Sequence[float]) -> np.ndarray:
    """Duration-weighted mean of per-window vectors (class probabilities or regression values)."""
    weights = np.asarray(durations, dtype=np.float64)
    stacked = np.stack([np.asarray(value, dtype=np.float64) for value in values])
    return (stacked * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-12)


__all__ = ["aggregate", "window_hop", "windows"]

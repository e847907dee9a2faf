"""Class-balanced sampling of training clips: every emotion drawn equally often in expectation.

Emotional speech corpora are imbalanced (IEMOCAP, MSP-Podcast: neutral dominates; EmoDB: 127 anger vs
46 disgust clips), and a model trained on them can collapse onto the frequent classes, which shows as UAR
at chance on some speaker folds. :func:`class_balanced_sampler` draws clips with replacement, each with
probability proportional to 1 / (its class's count), so an epoch of ``len(labels)`` draws holds each class
about equally often. An alternative to ``class_weights`` (re-weighting the loss) that keeps batches
balanced instead.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler


def class_balanced_weights(labels: Sequence[int]) -> np.ndarray:
    """Per-clip drawing weight 1 / (count of its class); clips without a label (< 0) get weight 0."""
    labels = np.asarray(labels, dtype=np.int64)
    labelled = labels >= 0
    if not labelled.any():
        raise ValueError("class-balanced sampling needs labelled clips; every label is < 0.")
    counts = np.bincount(labels[labelled])
    weights = np.zeros(len(labels), dtype=np.float64)
    weights[labelled] = 1.0 / counts[labels[labelled]]
    return weights


def class_balanced_sampler(
    labels: Sequence[int], seed: int, num_samples: int | None = None
) -> WeightedRandomSampler:
    """A :class:`~torch.utils.data.WeightedRandomSampler` over ``labels`` (with replacement) whose draws
    depend only on ``seed``: the same seed gives the same clip order, epoch after epoch.

    Args:
        labels: class index of each training clip (< 0: unlabelled, never drawn).
        seed: seeds the sampler's own generator (not the global torch RNG).
        num_samples: draws per epoch; defaults to ``len(labels)`` (an epoch as long as without sampling).
    """
    weights = torch.as_tensor(class_balanced_weights(labels), dtype=torch.double)
    generator = torch.Generator().manual_seed(int(seed))
    return WeightedRandomSampler(
        weights, num_samples=num_samples or len(weights), replacement=True, generator=generator
    )

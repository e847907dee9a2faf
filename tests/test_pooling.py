"""Tests of the pooling layers and mask helpers: padded frames never influence the result."""

from __future__ import annotations

import pytest
import torch

from hf_ser.models.masks import lengths_to_mask, masked_mean, sample_mask_to_frame_mask
from hf_ser.models.pooling import (
    POOLING_TYPES,
    AttentiveStatisticsPooling,
    MeanPooling,
    MultiHeadAttentionPooling,
    SoftAttentionPooling,
    build_pooling,
    masked_softmax,
)

HIDDEN = 8


@pytest.fixture
def frames():
    torch.manual_seed(0)
    return torch.randn(3, 10, HIDDEN)


@pytest.mark.parametrize("name", POOLING_TYPES)
def test_padding_never_changes_pooled_vector(frames, name):
    torch.manual_seed(1)
    pooling = build_pooling(name, HIDDEN, attention_size=6, num_heads=3)
    lengths = torch.tensor([10, 7, 3])
    mask = lengths_to_mask(lengths, 10)
    garbage = frames.masked_fill(~mask.unsqueeze(-1), 1e4)  # padding holds huge values
    batched = pooling(garbage, mask)
    assert batched.pooled.shape == (3, pooling.output_size)
    for index, length in enumerate(lengths.tolist()):
        alone = pooling(frames[index : index + 1, :length])
        torch.testing.assert_close(batched.pooled[index], alone.pooled[0], atol=1e-5, rtol=0)
        if alone.weights is not None:
            torch.testing.assert_close(batched.weights[index, :length], alone.weights[0], atol=1e-6, rtol=0)
            assert torch.all(batched.weights[index, length:] == 0)


@pytest.mark.parametrize(
    ("name", "factor", "has_weights"),
    [
        ("mean", 1, False),
        ("attentive_stats", 2, True),
        ("soft_attention", 1, True),
        ("multihead_attention", 4, True),
    ],
)
def test_output_sizes_and_weights(frames, name, factor, has_weights):
    pooling = build_pooling(name, HIDDEN, num_heads=4)
    out = pooling(frames)
    assert pooling.output_size == factor * HIDDEN
    assert out.pooled.shape == (3, factor * HIDDEN)
    assert (out.weights is not None) == has_weights
    if has_weights:
        torch.testing.assert_close(out.weights.sum(dim=1), torch.ones_like(out.weights.sum(dim=1)))


def test_mean_pooling_is_masked_mean(frames):
    mask = lengths_to_mask(torch.tensor([10, 4, 1]), 10)
    pooled = MeanPooling(HIDDEN)(frames, mask).pooled
    torch.testing.assert_close(pooled[1], frames[1, :4].mean(dim=0))
    torch.testing.assert_close(pooled[2], frames[2, 0])


def test_soft_attention_projection_free_form(frames):
    pooling = SoftAttentionPooling(HIDDEN, attention_size=None)
    assert isinstance(pooling.scorer.projection, torch.nn.Identity)
    expected_weights = torch.softmax(frames @ pooling.scorer.context.weight[0], dim=1)
    out = pooling(frames)
    torch.testing.assert_close(out.weights, expected_weights)
    torch.testing.assert_close(out.pooled, torch.einsum("bt,bth->bh", expected_weights, frames))


def test_attentive_statistics_matches_weighted_moments(frames):
    pooling = AttentiveStatisticsPooling(HIDDEN, attention_size=4)
    out = pooling(frames)
    weights = out.weights.unsqueeze(-1)
    mean = (weights * frames).sum(dim=1)
    std = torch.sqrt((weights * (frames - mean.unsqueeze(1)) ** 2).sum(dim=1))
    torch.testing.assert_close(out.pooled, torch.cat([mean, std], dim=-1), atol=1e-5, rtol=1e-4)


def test_attentive_statistics_finite_for_constant_frames():
    pooling = AttentiveStatisticsPooling(HIDDEN)
    constant = torch.ones(1, 5, HIDDEN)
    out = pooling(constant)
    out.pooled.sum().backward()
    assert torch.isfinite(out.pooled).all()
    assert all(torch.isfinite(p.grad).all() for p in pooling.parameters() if p.grad is not None)


def test_multihead_heads_differ(frames):
    torch.manual_seed(3)
    out = MultiHeadAttentionPooling(HIDDEN, attention_size=6, num_heads=2)(frames)
    assert out.weights.shape == (3, 10, 2)
    assert not torch.allclose(out.pooled[:, :HIDDEN], out.pooled[:, HIDDEN:])


def test_unknown_pooling_lists_choices():
    with pytest.raises(ValueError, match=r"Unknown pooling 'max'; choose one of mean, attentive_stats"):
        build_pooling("max", HIDDEN)


def test_mask_helpers():
    mask = lengths_to_mask(torch.tensor([2, 0, 3]), 3)
    assert mask.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    sample_mask = torch.tensor([[1] * 800 + [0] * 800, [1] * 1600])
    frame_mask = sample_mask_to_frame_mask(
        sample_mask, 8, lambda n: torch.div(n - 400, 160, rounding_mode="floor") + 1
    )
    assert frame_mask.sum(dim=1).tolist() == [3, 8]
    assert sample_mask_to_frame_mask(None, 9, lambda n: n) is None
    # Fully padded rows fall back to zero vectors instead of NaN.
    hidden = torch.ones(3, 3, 2)
    assert torch.isfinite(masked_mean(hidden, mask)).all()
    weights = masked_softmax(torch.zeros(3, 3), mask)
    assert torch.all(weights[0, 2] == 0)
    assert torch.isclose(weights[0].sum(), torch.tensor(1.0))

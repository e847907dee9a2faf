"""Utterance pooling: turn ``(batch, frames, hidden)`` frame features into one vector per clip.

Every pooling honours a frame mask (see :mod:`.masks`): padded frames never influence the result,
so a clip padded inside a batch is pooled exactly as the clip alone. Poolings that learn a weight per
frame return it as ``weights`` (``(batch, frames)``, or ``(batch, frames, heads)`` for several heads;
zeros on padding) so pipelines can show where the model listened.

Available (``SERConfig.pooling``):

- ``"mean"``: masked mean over time.
- ``"attentive_stats"``: attentive statistics pooling (Okabe et al., 2018): attention-weighted
  mean || attention-weighted standard deviation; output size ``2 * hidden``.
- ``"soft_attention"``: alpha = softmax(v^T tanh(W h)); with ``attention_size=None`` the plain
  ``e_t = u^T h_t`` form used by LSTM-SA (Krasnoproshin & Vashkevich).
- ``"multihead_attention"``: several soft-attention heads, each producing a weighted mean, concatenated;
  output size ``heads * hidden``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from .masks import masked_fill_min, masked_mean

POOLING_TYPES = ("mean", "attentive_stats", "soft_attention", "multihead_attention")


@dataclass
class PoolingOutput:
    """Result of a pooling layer.

    Args:
        pooled (`torch.Tensor` of shape `(batch, output_size)`): one vector per clip.
        weights (`torch.Tensor` of shape `(batch, frames)` or `(batch, frames, heads)`, *optional*):
            attention weights over frames (sum to 1 over real frames, 0 on padding), when the pooling
            learns them.
    """

    pooled: torch.Tensor
    weights: Optional[torch.Tensor] = None


def masked_softmax(scores: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Softmax over the time axis (dim 1) with padded frames set to exactly zero weight."""
    weights = torch.softmax(masked_fill_min(scores, mask), dim=1)
    if mask is not None:
        frame_mask = mask.to(weights.dtype)
        while frame_mask.dim() < weights.dim():
            frame_mask = frame_mask.unsqueeze(-1)
        weights = weights * frame_mask
    return weights


class MeanPooling(nn.Module):
    """Masked mean over time. No parameters."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        return PoolingOutput(pooled=masked_mean(hidden_states, mask))


class AttentionScorer(nn.Module):
    """Scores each frame for attention pooling: ``v^T tanh(W h + b)`` per head, or ``u^T h`` when
    ``attention_size`` is None. Returns ``(batch, frames, heads)``."""

    def __init__(self, hidden_size: int, attention_size: Optional[int], num_heads: int = 1) -> None:
        super().__init__()
        if attention_size is None:
            self.projection = nn.Identity()
            self.context = nn.Linear(hidden_size, num_heads, bias=False)
        else:
            self.projection = nn.Sequential(nn.Linear(hidden_size, attention_size), nn.Tanh())
            self.context = nn.Linear(attention_size, num_heads, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.context(self.projection(hidden_states))


class SoftAttentionPooling(nn.Module):
    """Single-head soft attention: ``alpha = softmax(v^T tanh(W h))``, pooled = sum_t alpha_t h_t.

    Args:
        hidden_size: frame feature size.
        attention_size: size of ``W``'s output; ``None`` gives the projection-free ``e_t = u^T h_t``.
    """

    def __init__(self, hidden_size: int, attention_size: Optional[int] = 128) -> None:
        super().__init__()
        self.scorer = AttentionScorer(hidden_size, attention_size, num_heads=1)
        self.output_size = hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        weights = masked_softmax(self.scorer(hidden_states).squeeze(-1), mask)
        pooled = torch.einsum("bt,bth->bh", weights, hidden_states)
        return PoolingOutput(pooled=pooled, weights=weights)


class MultiHeadAttentionPooling(nn.Module):
    """Several soft-attention heads over the same frames; their weighted means are concatenated.

    Output size is ``num_heads * hidden_size``; ``weights`` has shape ``(batch, frames, heads)``.
    """

    def __init__(self, hidden_size: int, attention_size: Optional[int] = 128, num_heads: int = 4) -> None:
        super().__init__()
        self.scorer = AttentionScorer(hidden_size, attention_size, num_heads=num_heads)
        self.num_heads = num_heads
        self.output_size = num_heads * hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        weights = masked_softmax(self.scorer(hidden_states), mask)  # (B, T, heads)
        pooled = torch.einsum("btk,bth->bkh", weights, hidden_states).flatten(1)
        return PoolingOutput(pooled=pooled, weights=weights)


class AttentiveStatisticsPooling(nn.Module):
    """Attentive statistics pooling: attention-weighted mean concatenated with weighted std.

    The std is ``sqrt(max(E_w[h^2] - E_w[h]^2, eps))``, so it stays finite for constant frames.
    """

    def __init__(self, hidden_size: int, attention_size: Optional[int] = 128, eps: float = 1e-5) -> None:
        super().__init__()
        self.scorer = AttentionScorer(hidden_size, attention_size, num_heads=1)
        self.eps = eps
        self.output_size = 2 * hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        weights = masked_softmax(self.scorer(hidden_states).squeeze(-1), mask)
        mean = torch.einsum("bt,bth->bh", weights, hidden_states)
        second_moment = torch.einsum("bt,bth->bh", weights, hidden_states * hidden_states)
        std = torch.sqrt((second_moment - mean * mean).clamp(min=self.eps))
        return PoolingOutput(pooled=torch.cat([mean, std], dim=-1), weights=weights)


def build_pooling(
    pooling: str,
    hidden_size: int,
    attention_size: Optional[int] = 128,
    num_heads: int = 4,
) -> nn.Module:
    """Build the pooling layer named ``pooling`` (one of :data:`POOLING_TYPES`).

    The returned module has an ``output_size`` attribute and
    ``forward(hidden_states, mask=None) -> PoolingOutput``.
    """
    if pooling == "mean":
        return MeanPooling(hidden_size)
    if pooling == "attentive_stats":
        return AttentiveStatisticsPooling(hidden_size, attention_size)
    if pooling == "soft_attention":
        return SoftAttentionPooling(hidden_size, attention_size)
    if pooling == "multihead_attention":
        return MultiHeadAttentionPooling(hidden_size, attention_size, num_heads)
    raise ValueError(f"Unknown pooling {pooling!r}; choose one of {', '.join(POOLING_TYPES)}.")

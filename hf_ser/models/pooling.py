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

Streaming: every pooling here is a softmax-weighted mean over frames (mean pooling: all scores 0), so
each also has an exact running form (:class:`StreamingPoolingMixin`): ``stream_update`` folds a piece
of frames into max-rescaled accumulators and ``stream_output`` gives the pooled vector of everything
seen so far, equal to the one-shot pooling of the concatenated frames.
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


@dataclass
class PoolingStreamState:
    """Running accumulators of a streamed pooling (see :class:`StreamingPoolingMixin`).

    Args:
        max_score (`torch.Tensor` of shape `(batch, heads)`): largest frame score seen so far, ``m``.
        normalizer (`torch.Tensor` of shape `(batch, heads)`): ``sum_t exp(e_t - m)``.
        weighted_sum (`torch.Tensor` of shape `(batch, heads, hidden)`): ``sum_t exp(e_t - m) h_t``.
        weighted_square_sum (`torch.Tensor` of shape `(batch, heads, hidden)`, *optional*):
            ``sum_t exp(e_t - m) h_t^2``, kept only by poolings that need a second moment.
    """

    max_score: torch.Tensor
    normalizer: torch.Tensor
    weighted_sum: torch.Tensor
    weighted_square_sum: Optional[torch.Tensor] = None


def masked_softmax(scores: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Softmax over the time axis (dim 1) with padded frames set to exactly zero weight."""
    weights = torch.softmax(masked_fill_min(scores, mask), dim=1)
    if mask is not None:
        frame_mask = mask.to(weights.dtype)
        while frame_mask.dim() < weights.dim():
            frame_mask = frame_mask.unsqueeze(-1)
        weights = weights * frame_mask
    return weights


class StreamingPoolingMixin:
    """Running (streaming) form of a pooling that is a softmax-weighted mean of frames, per head.

    Such a pooling computes ``mean_k = sum_t w_tk h_t`` (and ``sum_t w_tk h_t^2`` when
    ``stream_second_moment``) with ``w_.k = softmax_t(e_tk)``; mean pooling is the case ``e_t = 0``.
    Over a stream the softmax stays exact with online-softmax accumulators (a log-sum-exp kept as a
    running max ``m`` and sums rescaled by ``exp(m_old - m_new)`` when a piece raises the max), so
    after any number of pieces :meth:`stream_output` equals the one-shot pooling of all frames so far
    (same mask semantics: padded frames count for nothing). Subclasses define :meth:`stream_scores`
    and :meth:`stream_finish`.

    Example:

    ```python
    >>> import torch
    >>> from hf_ser.models.pooling import build_pooling
    >>> pooling = build_pooling("attentive_stats", hidden_size=8, attention_size=4)
    >>> frames = torch.randn(2, 30, 8)
    >>> state = None
    >>> for piece in frames.split(7, dim=1):
    ...     state = pooling.stream_update(piece, state)
    >>> torch.allclose(pooling.stream_output(state).pooled, pooling(frames).pooled, atol=1e-5)
    True

    ```
    """

    stream_second_moment = False

    def stream_scores(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Frame scores ``e`` of shape `(batch, frames, heads)` (the logits of the pooling's softmax)."""
        raise NotImplementedError

    def stream_finish(self, mean: torch.Tensor, second_moment: Optional[torch.Tensor]) -> torch.Tensor:
        """Pooled `(batch, output_size)` from the weighted moments, each `(batch, heads, hidden)`."""
        raise NotImplementedError

    def stream_update(
        self,
        hidden_states: torch.Tensor,
        state: Optional[PoolingStreamState] = None,
        mask: Optional[torch.Tensor] = None,
    ) -> PoolingStreamState:
        """Fold a piece of frames into the accumulators and return the new state.

        Args:
            hidden_states (`torch.Tensor` of shape `(batch, frames, hidden)`): the next frames of each stream.
            state (`PoolingStreamState`, *optional*): state after the previous pieces (`None`: nothing yet).
            mask (`torch.Tensor` of shape `(batch, frames)`, *optional*): frame mask, `True` = real frame.
        """
        batch, _, hidden = hidden_states.shape
        scores = self.stream_scores(hidden_states).float()
        if state is None:
            heads = scores.shape[-1]
            zeros = hidden_states.new_zeros(batch, heads, hidden, dtype=torch.float32)
            state = PoolingStreamState(
                max_score=scores.new_full((batch, heads), torch.finfo(torch.float32).min),
                normalizer=scores.new_zeros(batch, heads),
                weighted_sum=zeros,
                weighted_square_sum=zeros.clone() if self.stream_second_moment else None,
            )
        if hidden_states.shape[1] == 0:
            return state
        scores = masked_fill_min(scores, mask)
        max_score = torch.maximum(state.max_score, scores.amax(dim=1))
        rescale = (state.max_score - max_score).exp()
        weights = (scores - max_score.unsqueeze(1)).exp()  # (batch, frames, heads)
        if mask is not None:
            weights = weights * mask.to(weights.dtype).unsqueeze(-1)
        frames = hidden_states.float()

        def accumulate(total: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
            return total * rescale.unsqueeze(-1) + torch.einsum("btk,bth->bkh", weights, values)

        return PoolingStreamState(
            max_score=max_score,
            normalizer=state.normalizer * rescale + weights.sum(dim=1),
            weighted_sum=accumulate(state.weighted_sum, frames),
            weighted_square_sum=(
                accumulate(state.weighted_square_sum, frames * frames)
                if state.weighted_square_sum is not None
                else None
            ),
        )

    def stream_output(self, state: PoolingStreamState) -> PoolingOutput:
        """Pooled vector of every frame folded into ``state`` so far (no frame weights: the weights of
        past frames keep changing as the stream goes on)."""
        normalizer = state.normalizer.clamp(min=torch.finfo(state.normalizer.dtype).tiny).unsqueeze(-1)
        second_moment = None
        if state.weighted_square_sum is not None:
            second_moment = state.weighted_square_sum / normalizer
        return PoolingOutput(pooled=self.stream_finish(state.weighted_sum / normalizer, second_moment))


class MeanPooling(StreamingPoolingMixin, nn.Module):
    """Masked mean over time. No parameters."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        return PoolingOutput(pooled=masked_mean(hidden_states, mask))

    def stream_scores(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states.new_zeros(hidden_states.shape[0], hidden_states.shape[1], 1)

    def stream_finish(self, mean: torch.Tensor, second_moment: Optional[torch.Tensor]) -> torch.Tensor:
        return mean.squeeze(1)


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


class SoftAttentionPooling(StreamingPoolingMixin, nn.Module):
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

    def stream_scores(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.scorer(hidden_states)

    def stream_finish(self, mean: torch.Tensor, second_moment: Optional[torch.Tensor]) -> torch.Tensor:
        return mean.squeeze(1)


class MultiHeadAttentionPooling(StreamingPoolingMixin, nn.Module):
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

    def stream_scores(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.scorer(hidden_states)

    def stream_finish(self, mean: torch.Tensor, second_moment: Optional[torch.Tensor]) -> torch.Tensor:
        return mean.flatten(1)


class AttentiveStatisticsPooling(StreamingPoolingMixin, nn.Module):
    """Attentive statistics pooling: attention-weighted mean concatenated with weighted std.

    The std is ``sqrt(max(E_w[h^2] - E_w[h]^2, eps))``, so it stays finite for constant frames.
    """

    stream_second_moment = True

    def __init__(self, hidden_size: int, attention_size: Optional[int] = 128, eps: float = 1e-5) -> None:
        super().__init__()
        self.scorer = AttentionScorer(hidden_size, attention_size, num_heads=1)
        self.eps = eps
        self.output_size = 2 * hidden_size

    def forward(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None) -> PoolingOutput:
        weights = masked_softmax(self.scorer(hidden_states).squeeze(-1), mask)
        mean = torch.einsum("bt,bth->bh", weights, hidden_states)
        second_moment = torch.einsum("bt,bth->bh", weights, hidden_states * hidden_states)
        return PoolingOutput(pooled=self.statistics(mean, second_moment), weights=weights)

    def statistics(self, mean: torch.Tensor, second_moment: torch.Tensor) -> torch.Tensor:
        """``mean || sqrt(max(E_w[h^2] - E_w[h]^2, eps))`` from the weighted first and second moments."""
        std = torch.sqrt((second_moment - mean * mean).clamp(min=self.eps))
        return torch.cat([mean, std], dim=-1)

    def stream_scores(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.scorer(hidden_states)

    def stream_finish(self, mean: torch.Tensor, second_moment: Optional[torch.Tensor]) -> torch.Tensor:
        return self.statistics(mean.squeeze(1), second_moment.squeeze(1))


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

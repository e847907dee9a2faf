"""Shared pieces of the seq2seq token mixers: head splitting, direction handling, per-head norm.

A *token mixer* maps ``(batch, frames, hidden)`` to the same shape by mixing information across
frames. All mixers of :mod:`.seq2seq` are built the same way so that only the attention core differs:
``project`` (input projections and gates, per head) -> ``core`` (the mechanism) -> output projection.

Bidirectional use of causal mechanisms
--------------------------------------
The linear mechanisms (retention, GLA, gated delta rule) and the forgetting transformer are causal: a
frame only sees the past. An utterance classifier should see the whole clip, so with
``bidirectional=True`` the first ``ceil(heads / 2)`` heads read the clip forwards and the remaining
heads read it backwards. The backward heads are fed a copy of their inputs reversed *within each
clip's real length* (:func:`reverse_padded`), so right padding stays at the end and a causal pass
never lets padding reach a real frame. One causal pass over all heads therefore computes both
directions: the cost is that of a unidirectional layer.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def padded_reverse_index(mask: torch.Tensor) -> torch.Tensor:
    """Index that reverses each row of a right-padded ``(batch, frames)`` mask's real part.

    Position ``t < length`` maps to ``length - 1 - t``; padded positions map to themselves. The map is
    its own inverse, so applying it twice restores the original order.
    """
    lengths = mask.long().sum(dim=-1, keepdim=True)
    positions = torch.arange(mask.shape[-1], device=mask.device).unsqueeze(0)
    return torch.where(positions < lengths, lengths - 1 - positions, positions)


def reverse_padded(tensor: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Reverse ``(batch, heads, frames, ...)`` along frames within each clip's real length."""
    if mask is None:
        return tensor.flip(2)
    index = padded_reverse_index(mask)
    shape = (index.shape[0], 1, index.shape[1]) + (1,) * (tensor.dim() - 3)
    return tensor.gather(2, index.view(shape).expand_as(tensor))


class HeadRMSNorm(nn.Module):
    """RMS normalisation of each head's output vector (RetNet / GLA / gated DeltaNet use one).

    It also makes the output scale independent of how many frames were summed into the state.
    """

    def __init__(self, head_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(head_dim))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        variance = hidden_states.pow(2).mean(dim=-1, keepdim=True)
        return hidden_states * torch.rsqrt(variance + self.eps) * self.weight


class TokenMixer(nn.Module):
    """Base class of the multi-head token mixers.

    Subclasses define ``project(hidden_states, mask) -> dict`` (per-head tensors of shape
    ``(batch, heads, frames, ...)``, already arranged by direction) and
    ``core(**projected, mode="chunk") -> (batch, heads, frames, head_dim)``. The benchmark times
    ``core`` alone; ``forward`` runs the whole mixer.

    Args:
        hidden_size (`int`): model width; must be divisible by `num_heads`.
        num_heads (`int`): number of heads.
        bidirectional (`bool`): for causal mechanisms, split heads between the two reading
            directions (see the module docstring).
    """

    causal = True

    def __init__(self, hidden_size: int, num_heads: int, bidirectional: bool = True) -> None:
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.bidirectional = bidirectional
        split = bidirectional and self.causal and num_heads > 1
        self.num_forward_heads = (num_heads + 1) // 2 if split else num_heads
        self.o_proj = nn.Linear(hidden_size, hidden_size)

    def split_heads(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, heads * dim)`` -> ``(batch, heads, frames, dim)``."""
        return hidden_states.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def merge_heads(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, frames, dim)`` -> ``(batch, frames, heads * dim)``."""
        return hidden_states.transpose(1, 2).flatten(2)

    def arrange(self, tensor: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Reverse the backward heads of a ``(batch, heads, frames, ...)`` tensor in time.

        Applied to the inputs of the core and again to its output (the reversal is an involution).
        """
        split = self.num_forward_heads
        if split == self.num_heads:
            return tensor
        return torch.cat([tensor[:, :split], reverse_padded(tensor[:, split:], mask)], dim=1)

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        raise NotImplementedError

    def core(self, mode: str = "chunk", **projected: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def finish(self, heads: torch.Tensor) -> torch.Tensor:
        """Per-head post-processing of the core's output (e.g. a head norm); identity by default."""
        return heads

    def forward(
        self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None, mode: str = "chunk"
    ) -> torch.Tensor:
        heads = self.core(mode=mode, **self.project(hidden_states, mask))
        heads = self.arrange(self.finish(heads), mask)
        return self.o_proj(self.merge_heads(heads))

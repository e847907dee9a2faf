"""Linear-time token mixers: RetNet retention, gated linear attention and the gated delta rule.

All three share one layout so that they differ only in their recurrence: fused q/k/v projection,
small gate projections (a few parameters per head), the causal kernel of :mod:`.linear_attention`
(chunkwise by default, recurrent with ``mode="recurrent"``), a per-head RMS norm and the output
projection. The papers' extra output gates, short convolutions and rotary encodings are left out to
keep the three comparable and cheap; the frame features fed to the encoder carry position already.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .linear_attention import (
    DELTA_CHUNK_SIZE,
    GLA_MIN_LOG_DECAY,
    check_chunk_size,
    chunk_gated_delta_rule,
    chunk_linear_attention,
    recurrent_gated_delta_rule,
    recurrent_linear_attention,
)
from .mixer_base import HeadRMSNorm, TokenMixer

KERNEL_MODES = ("chunk", "recurrent")


def _check_mode(mode: str) -> None:
    if mode not in KERNEL_MODES:
        raise ValueError(f"mode must be one of {KERNEL_MODES}, got {mode!r}.")


class LinearMixer(TokenMixer):
    """Common part of the linear mixers: q/k/v projection, head norm, chunk size.

    ``chunk_size=None`` takes the mechanism's ``default_chunk_size`` (the fastest on CPU at head size 64).
    """

    default_chunk_size = 64

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional)
        chunk_size = self.default_chunk_size if chunk_size is None else chunk_size
        check_chunk_size(chunk_size)
        self.qkv_proj = nn.Linear(hidden_size, 3 * hidden_size)
        self.norm = HeadRMSNorm(self.head_dim)
        self.chunk_size = chunk_size

    def project_qkv(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> list:
        query, key, value = map(self.split_heads, self.qkv_proj(hidden_states).chunk(3, dim=-1))
        return [self.arrange(tensor, mask) for tensor in (query, key, value)]

    def finish(self, heads: torch.Tensor) -> torch.Tensor:
        return self.norm(heads)

    #: ``(chunkwise kernel, recurrent kernel)`` of the mechanism, from :mod:`.linear_attention`
    kernels: tuple = (chunk_linear_attention, recurrent_linear_attention)

    def run_kernel(
        self, projected: dict, mode: str = "chunk", initial_state: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention core from ``initial_state``: ``(heads, final_state)`` (streams carry the state)."""
        _check_mode(mode)
        chunked, recurrent = self.kernels
        if mode == "recurrent":
            return recurrent(**projected, initial_state=initial_state)
        return chunked(**projected, chunk_size=self.chunk_size, initial_state=initial_state)

    def core(self, mode: str = "chunk", **projected: torch.Tensor) -> torch.Tensor:
        return self.run_kernel(projected, mode)[0]

    def initial_state(self, batch_size: int, device: torch.device, dtype: torch.dtype) -> Any:
        """Recurrent state before the first frame (streaming): zeros of shape (batch, heads, dk, dv)."""
        shape = (batch_size, self.num_heads, self.head_dim, self.head_dim)
        return torch.zeros(shape, device=device, dtype=dtype)

    def hold_padded_frames(self, projected: dict, mask: torch.Tensor) -> dict:
        """Make padded frames no-ops of the recurrence: zero key (no write), zero log decay (no decay),
        zero ``beta`` (no delta-rule correction). The state after a padded frame is then the state
        before it, so rows of a streamed batch advance by their own real frames only."""
        keep = mask.to(projected["key"].dtype)[:, None, :]  # (batch, 1, frames)
        held = dict(projected)
        held["key"] = projected["key"] * keep.unsqueeze(-1)
        log_decay = projected["log_decay"]
        if log_decay.dim() == 3 and log_decay.shape[2] == 1:  # fixed decay per head (retention)
            log_decay = log_decay.expand(-1, -1, mask.shape[1])
        held["log_decay"] = log_decay * (keep.unsqueeze(-1) if log_decay.dim() == 4 else keep)
        if "beta" in projected:
            held["beta"] = projected["beta"] * keep
        return held


def retention_log_decay(num_heads: int, num_forward_heads: int) -> torch.Tensor:
    """RetNet's multi-scale decays ``gamma = 1 - 2^(-5 - i)``, in log space, one per head.

    Each reading direction gets the full set of scales (index ``i`` restarts for backward heads).
    """
    heads = torch.arange(num_heads)
    scale_index = torch.where(heads < num_forward_heads, heads, heads - num_forward_heads)
    return torch.log1p(-torch.pow(2.0, -5.0 - scale_index.float()))


class RetentionMixer(LinearMixer):
    """Multi-scale retention (Sun et al., 2023, RetNet): a fixed exponential decay per head.

    ``S_t = gamma_h S_{t-1} + k_t^T v_t``, ``o_t = q_t S_t``. The decays are derived from the head
    count (not stored), so they need no weights in a checkpoint.
    """

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = self.project_qkv(hidden_states, mask)
        decay = retention_log_decay(self.num_heads, self.num_forward_heads).to(query)
        log_decay = decay[None, :, None].expand(query.shape[0], -1, 1)  # fixed: (batch, heads, 1)
        return {"query": query * self.head_dim**-0.5, "key": key, "value": value, "log_decay": log_decay}


class GatedLinearAttentionMixer(LinearMixer):
    """Gated linear attention (Yang et al., 2024, "GLA"): a data-dependent decay per key dimension.

    ``S_t = diag(a_t) S_{t-1} + k_t^T v_t`` with ``log a_t = logsigmoid(W2 W1 x_t + b) / 16`` (low-rank
    gate, FLA's normaliser 16), clamped at ``GLA_MIN_LOG_DECAY`` (once needed by the chunkwise kernel,
    kept so trained GLA models keep their behaviour). LightNet and the slot -> value pass of GSA run on
    the same kernel with other gates (:mod:`.mixers_gated`).
    """

    gate_rank = 16
    gate_normalizer = 16.0

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional, chunk_size)
        self.gate_down = nn.Linear(hidden_size, self.gate_rank, bias=False)
        self.gate_up = nn.Linear(self.gate_rank, hidden_size, bias=False)
        self.gate_bias = nn.Parameter(torch.zeros(hidden_size))

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = self.project_qkv(hidden_states, mask)
        gate = self.gate_up(self.gate_down(hidden_states)) + self.gate_bias
        log_decay = (F.logsigmoid(gate) / self.gate_normalizer).clamp(min=GLA_MIN_LOG_DECAY)
        return {
            "query": query * self.head_dim**-0.5,
            "key": key,
            "value": value,
            "log_decay": self.arrange(self.split_heads(log_decay), mask),
        }


class GatedDeltaRuleMixer(LinearMixer):
    """Gated delta rule (Yang et al., 2025, "Gated DeltaNet"):
    ``S_t = a_t (I - beta_t k_t^T k_t) S_{t-1} + beta_t k_t^T v_t``; Kimi delta attention, with one decay
    per key dimension, is :class:`~.mixers_gated.KimiDeltaAttentionMixer`.

    The state is corrected towards each new key/value pair instead of only accumulating it. Keys and
    queries are L2-normalised (needed for stability), ``beta_t = sigmoid(w_b . x_t)`` and
    ``log a_t = logsigmoid(w_a . x_t + b_a)`` per head.
    """

    default_chunk_size = DELTA_CHUNK_SIZE
    kernels = (chunk_gated_delta_rule, recurrent_gated_delta_rule)

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
        decay_bias: float = 3.0,
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional, chunk_size)
        self.gate_proj = nn.Linear(hidden_size, 2 * num_heads, bias=False)
        # outside nn.Linear so generic `_init_weights` keeps it; sigmoid(3) ~ 0.95 initial decay
        self.decay_bias = nn.Parameter(torch.full((num_heads,), decay_bias))

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = self.project_qkv(hidden_states, mask)
        beta_logits, decay_logits = self.gate_proj(hidden_states).transpose(1, 2).chunk(2, dim=1)
        log_decay = F.logsigmoid(decay_logits + self.decay_bias[:, None])
        return {
            "query": F.normalize(query, dim=-1) * self.head_dim**-0.5,
            "key": F.normalize(key, dim=-1),
            "value": value,
            "log_decay": self.arrange(log_decay, mask),
            "beta": self.arrange(torch.sigmoid(beta_logits), mask),
        }

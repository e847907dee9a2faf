"""Paper 000's other linear-time mixers: LightNet, gated slot attention (GSA), Kimi delta attention (KDA).

Casals-Salvador & Costa (2026) compare RetNet, LightNet, GSA, FoX and KDA with softmax attention in a
seq2seq module for SER. Each mechanism here is an existing kernel of :mod:`.linear_attention` with the
gate of its paper, so every idea is written once:

- LightNet = GLA (:func:`~.linear_attention.chunk_linear_attention`) with the additive log-sum-exp
  decay of :func:`~.linear_attention.lightnet_gate`;
- GSA = a key -> slot pass (:func:`~.linear_attention.chunk_value_decay_attention`), a softmax over
  ``m`` slots and a slot -> value GLA pass (:func:`~.linear_attention.chunk_gated_slot_attention`);
- KDA = the gated delta rule (:func:`~.linear_attention.chunk_gated_delta_rule`) with one decay per
  key dimension.

The layout is that of :mod:`.mixers_linear` (fused q/k/v projection, per-head RMS norm, output
projection; no short convolutions or output gates, as for the other mixers), so the comparison isolates
the attention core. On CUDA tensors with ``flash-linear-attention`` installed the chunkwise forms take
fla's Triton kernels (:mod:`.fla_backend`); everywhere else the reference kernels run.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .fla_backend import fla_gla, fla_gsa, fla_kda, use_fla
from .linear_attention import (
    DELTA_CHUNK_SIZE,
    chunk_gated_delta_rule,
    chunk_gated_slot_attention,
    lightnet_gate,
    recurrent_gated_delta_rule,
    recurrent_gated_slot_attention,
)
from .mixers_linear import LinearMixer


def _inverse_softplus(values: torch.Tensor) -> torch.Tensor:
    """``x`` with ``softplus(x) = values`` (values > 0)."""
    return values + torch.log(-torch.expm1(-values))


class FlaDispatchMixer(LinearMixer):
    """A linear mixer whose chunkwise kernel has an fla equivalent (``fla_kernel``, a 1-tuple).

    The fla path is taken only for ``mode="chunk"`` on CUDA tensors when ``fla`` imports; the recurrent
    form (streaming) and CPU inputs always use the reference kernels.
    """

    fla_kernel: tuple = ()

    def run_kernel(
        self, projected: dict, mode: str = "chunk", initial_state: Optional[Any] = None
    ) -> tuple[torch.Tensor, Any]:
        if mode == "chunk" and self.fla_kernel and use_fla(projected["query"]):
            return self.fla_kernel[0](**projected, initial_state=initial_state)
        return super().run_kernel(projected, mode, initial_state)


class LightNetMixer(FlaDispatchMixer):
    """LightNet (Qin et al., 2024, "You Only Scan Once"): linear attention with an additive decay.

    ``z_t = logsumexp_{s <= t} f_s`` per key dimension, ``k_t = exp(f_t - z_t)``, decay
    ``exp(z_{t-1} - z_t)``: the state is a running softmax-over-time average of the values, so old frames
    fade because the normaliser grows, not through a learned multiplicative gate
    (:func:`~.linear_attention.lightnet_gate`). Queries use SiLU, as in LightNet. The streaming state is
    ``(S, z)``.
    """

    fla_kernel = (fla_gla,)

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, features, value = self.project_qkv(hidden_states, mask)
        return {"query": F.silu(query) * self.head_dim**-0.5, "key": features, "value": value}

    def run_kernel(
        self, projected: dict, mode: str = "chunk", initial_state: Optional[Any] = None
    ) -> tuple[torch.Tensor, Any]:
        state, normalizer = (None, None) if initial_state is None else initial_state
        key, log_decay, normalizer = lightnet_gate(projected["key"], normalizer)
        inputs = dict(projected, key=key, log_decay=log_decay)
        heads, state = super().run_kernel(inputs, mode, state)
        return heads, (state, normalizer)

    def initial_state(self, batch_size: int, device: torch.device, dtype: torch.dtype) -> Any:
        """``(S, z)``: zero state and an empty normaliser (``-inf``: nothing seen)."""
        state = super().initial_state(batch_size, device, dtype)
        return state, torch.full(state.shape[:3], float("-inf"), device=device, dtype=dtype)

    def hold_padded_frames(self, projected: dict, mask: torch.Tensor) -> dict:
        """Padded frames get ``f = -inf``: no weight in the normaliser, no write, no decay."""
        padded = ~mask.bool()[:, None, :, None]
        return dict(projected, key=projected["key"].masked_fill(padded, float("-inf")))


class GatedSlotAttentionMixer(FlaDispatchMixer):
    """Gated slot attention (Zhang et al., 2024, "GSA"): a bounded memory of ``num_slots`` slots per head.

    Forget gates ``a_t = sigmoid(W_f x_t)^(1/8)`` (one per slot, GSA's normaliser 8) write keys and values
    into the slots with weights ``1 - a_t``; a frame reads ``softmax(q_t K~_t^T) V~_t``
    (:func:`~.linear_attention.chunk_gated_slot_attention`). Swish feature map on queries and keys, SiLU
    on values and on the output before the head norm, no query scaling, as in GSA.

    Args:
        num_slots (`int`, *optional*): slots per head, ``head_dim`` by default (64 in the paper).
    """

    kernels = (chunk_gated_slot_attention, recurrent_gated_slot_attention)
    fla_kernel = (fla_gsa,)
    gate_normalizer = 8.0

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
        num_slots: Optional[int] = None,
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional, chunk_size)
        self.num_slots = num_slots or self.head_dim
        self.forget_proj = nn.Linear(hidden_size, num_heads * self.num_slots, bias=False)

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = self.project_qkv(hidden_states, mask)
        log_forget = F.logsigmoid(self.forget_proj(hidden_states)) / self.gate_normalizer
        return {
            "query": F.silu(query),
            "key": F.silu(key),
            "value": F.silu(value),
            "log_decay": self.arrange(self.split_heads(log_forget), mask),
        }

    def finish(self, heads: torch.Tensor) -> torch.Tensor:
        return self.norm(F.silu(heads))

    def initial_state(self, batch_size: int, device: torch.device, dtype: torch.dtype) -> Any:
        """``(slot keys (batch, heads, head_dim, slots), slot values (batch, heads, slots, head_dim))``."""
        shape = (batch_size, self.num_heads)
        return (
            torch.zeros(*shape, self.head_dim, self.num_slots, device=device, dtype=dtype),
            torch.zeros(*shape, self.num_slots, self.head_dim, device=device, dtype=dtype),
        )


class KimiDeltaAttentionMixer(FlaDispatchMixer):
    """Kimi delta attention (Kimi Team, 2025, "Kimi Linear", KDA): the gated delta rule with channel-wise
    forget gates, ``S_t = (I - beta_t k_t^T k_t) diag(a_t) S_{t-1} + beta_t k_t^T v_t``.

    One decay per key dimension instead of gated DeltaNet's scalar per head, from a low-rank projection:
    ``log a_t = -exp(A_h) softplus(W_up W_down x_t + b)``, ``beta_t = sigmoid(w_b . x_t)``. SiLU then
    L2 normalisation of queries and keys, SiLU on values, as in KDA. Initialisation: ``exp(A_h)`` spread
    over 1 .. 16 across heads (KDA's range, evenly instead of at random) and ``softplus(b)`` spread
    log-uniformly over 0.001 .. 0.1 across channels (Mamba's / gated DeltaNet's ``dt_bias``): per-frame
    decays from 0.999 to 0.2, long and short memories. fla's KDA layer starts ``b`` at 0, which at 50 Hz
    frames forgets everything within a few frames (``a_t <= 0.5``).
    """

    default_chunk_size = DELTA_CHUNK_SIZE
    kernels = (chunk_gated_delta_rule, recurrent_gated_delta_rule)
    fla_kernel = (fla_kda,)

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional, chunk_size)
        self.gate_down = nn.Linear(hidden_size, self.head_dim, bias=False)
        self.gate_up = nn.Linear(self.head_dim, hidden_size, bias=False)
        self.beta_proj = nn.Linear(hidden_size, num_heads, bias=False)
        # outside nn.Linear so the generic `_init_weights` keeps them (KDA's A_log and dt_bias)
        self.decay_log_scale = nn.Parameter(torch.linspace(1.0, 16.0, num_heads).log())
        self.decay_bias = nn.Parameter(_inverse_softplus(torch.logspace(-3, -1, hidden_size)))

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = self.project_qkv(hidden_states, mask)
        gate = self.split_heads(self.gate_up(self.gate_down(hidden_states)) + self.decay_bias)
        log_decay = -F.softplus(gate) * self.decay_log_scale.exp()[:, None, None]
        beta = torch.sigmoid(self.beta_proj(hidden_states)).transpose(1, 2)
        return {
            "query": F.normalize(F.silu(query), dim=-1) * self.head_dim**-0.5,
            "key": F.normalize(F.silu(key), dim=-1),
            "value": F.silu(value),
            "log_decay": self.arrange(log_decay, mask),
            "beta": self.arrange(beta, mask),
        }

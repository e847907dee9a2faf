"""Softmax token mixers: standard multi-head self-attention and the Forgetting Transformer (FoX).

Both use :func:`torch.nn.functional.scaled_dot_product_attention` (SDPA). On CPU and GPU its fused
kernels work block by block with an online softmax, so no ``frames x frames`` matrix is held in
memory when no dense mask is passed; cost stays quadratic in time.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .mixer_base import TokenMixer


class SoftmaxAttentionMixer(TokenMixer):
    """Multi-head softmax self-attention (Vaswani et al., 2017) via SDPA.

    Bidirectional: every frame attends to every real frame of its clip (padded keys are masked).
    With ``bidirectional=False`` it is causal. No positional encoding is added: SSL backbone
    features already carry position information (wav2vec2's convolutional position embedding).
    """

    causal = False

    def __init__(self, hidden_size: int, num_heads: int, bidirectional: bool = True) -> None:
        super().__init__(hidden_size, num_heads, bidirectional)
        self.qkv_proj = nn.Linear(hidden_size, 3 * hidden_size)

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = map(self.split_heads, self.qkv_proj(hidden_states).chunk(3, dim=-1))
        # a (batch, 1, 1, frames) key mask keeps SDPA on its fused kernel (no frames x frames mask)
        key_mask = None if mask is None else mask.bool()[:, None, None, :]
        return {"query": query, "key": key, "value": value, "key_mask": key_mask}

    def core(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_mask: Optional[torch.Tensor] = None,
        mode: str = "chunk",
    ) -> torch.Tensor:
        if not self.bidirectional:
            return F.scaled_dot_product_attention(query, key, value, is_causal=True)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask)


def forgetting_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, log_forget: torch.Tensor
) -> torch.Tensor:
    """Causal softmax attention with the forget-gate bias of the Forgetting Transformer.

    ``out_i = sum_{j<=i} softmax_j(q_i . k_j / sqrt(d) + F_i - F_j) v_j`` with ``F = cumsum(log f)``.
    ``F_i`` is constant along a softmax row and cancels, so the bias is ``-F_j``, a function of the key
    alone: it is appended to the keys as one extra dimension (queries get a 1 there, values a 0) and
    the whole thing runs as one causal fused SDPA call. No bias matrix and no ``frames x frames`` score matrix
    are ever materialised.

    Args:
        query, key (`torch.Tensor` of shape `(batch, heads, frames, head_dim)`), value (same shape).
        log_forget (`torch.Tensor` of shape `(batch, heads, frames)`): ``log f_t <= 0``.
    """
    head_dim = query.shape[-1]
    cumulative = log_forget.float().cumsum(dim=-1)
    # centre the cumulative sum: same softmax, smaller magnitudes, better fp32 resolution
    cumulative = cumulative - cumulative[..., -1:] / 2
    bias = (-cumulative * math.sqrt(head_dim)).to(key.dtype).unsqueeze(-1)
    # a pad (not cat with ones_like, which the ONNX exporter folds into a constant of the example shape)
    query = F.pad(query, (0, 1), value=1.0)
    key = torch.cat([key, bias], dim=-1)
    # equal q/k/v widths keep SDPA on its fused flash kernel (the math fallback is quadratic in memory)
    value = F.pad(value, (0, 1))
    output = F.scaled_dot_product_attention(query, key, value, is_causal=True, scale=head_dim**-0.5)
    return output[..., :-1]


class ForgettingAttentionMixer(TokenMixer):
    """Forgetting Transformer attention (Lin et al., 2025, "FoX").

    Softmax attention whose scores are down-weighted by a data-dependent forget gate
    ``f_t = sigmoid(w_h . x_t + b_h)`` per head: key ``j`` is weighted by ``prod_{j<s<=i} f_s`` for
    query ``i``. Causal; bidirectional use splits the heads between directions (see
    :mod:`.mixer_base`). Quadratic in time, linear in memory (see :func:`forgetting_attention`).
    """

    def __init__(
        self, hidden_size: int, num_heads: int, bidirectional: bool = True, forget_bias: float = 3.0
    ) -> None:
        super().__init__(hidden_size, num_heads, bidirectional)
        self.qkv_proj = nn.Linear(hidden_size, 3 * hidden_size)
        self.forget_proj = nn.Linear(hidden_size, num_heads, bias=False)
        # kept outside nn.Linear so generic `_init_weights` (zeroing Linear biases) leaves it alone;
        # sigmoid(3) ~ 0.95: a fresh model forgets slowly
        self.forget_bias = nn.Parameter(torch.full((num_heads,), forget_bias))

    def project(self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> dict:
        query, key, value = map(self.split_heads, self.qkv_proj(hidden_states).chunk(3, dim=-1))
        log_forget = F.logsigmoid(self.forget_proj(hidden_states) + self.forget_bias).transpose(1, 2)
        return {
            "query": self.arrange(query, mask),
            "key": self.arrange(key, mask),
            "value": self.arrange(value, mask),
            "log_forget": self.arrange(log_forget, mask),
        }

    def core(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        log_forget: torch.Tensor,
        mode: str = "chunk",
    ) -> torch.Tensor:
        return forgetting_attention(query, key, value, log_forget)

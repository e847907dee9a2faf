"""Seq2seq encoder with a swappable token mixer, between frame features and the pooling head.

Paper 000 (Casals-Salvador & Costa, 2026) puts a small sequence-to-sequence module between frozen
SSL features and attention pooling and compares attention mechanisms in it: softmax attention is the
most accurate, linear-time mechanisms scale to long recordings. :class:`Seq2SeqEncoder` is that
module: ``num_layers`` pre-norm blocks ``x + mixer(LN(x))`` then ``x + FFN(LN(x))``, and a final
LayerNorm. Mechanisms (``SEQ2SEQ_MECHANISMS``):

- ``"none"``: no token mixing: the mixer is a per-frame value/output projection. The ablation, and
  the speed floor no mechanism can beat.
- ``"softmax"``: multi-head self-attention via SDPA, padded frames masked. Quadratic time.
- ``"retention"``: RetNet multi-scale retention (fixed decay per head). Linear time.
- ``"gla"``: gated linear attention (data-dependent decay per key dimension). Linear time.
- ``"forgetting"``: Forgetting Transformer (softmax with a data-dependent forget-gate bias), computed
  by a fused block-wise kernel: quadratic time, linear memory.
- ``"delta"``: gated delta rule (gated DeltaNet: a scalar decay per head). Linear time.
- ``"lightnet"``: LightNet's additive decay (a running log-sum-exp normaliser; GLA kernel). Linear time.
- ``"gsa"``: gated slot attention (a bounded memory of ``head_dim`` slots, softmax read). Linear time.
- ``"kda"``: Kimi delta attention (the gated delta rule with one decay per key dimension). Linear time.

The linear mechanisms run chunkwise (``mode="chunk"``, default: parallel over frames inside chunks
of ``chunk_size`` frames) or frame by frame (``mode="recurrent"``, for streaming); both give the same
result. Causal mechanisms read the clip in both directions when ``bidirectional=True`` by giving half
of the heads a time-reversed copy (see :mod:`.mixer_base`). Masks are right-padded frame masks
(``True`` = real frame, see :mod:`.masks`); a clip padded inside a batch gets exactly the outputs it
gets alone, and padded frames are zeros in the output.

Example:

```python
>>> import torch
>>> from hf_ser.models.seq2seq import Seq2SeqEncoder
>>> encoder = Seq2SeqEncoder("gla", hidden_size=64, num_heads=4, num_layers=2)
>>> frames = torch.randn(2, 120, 64)
>>> mask = torch.ones(2, 120, dtype=torch.bool)
>>> mask[1, 80:] = False
>>> encoder(frames, attention_mask=mask).shape
torch.Size([2, 120, 64])

```

Streaming: a causal encoder (``bidirectional=False``) with a linear mechanism is a recurrence with one
``head_dim x head_dim`` state per head and layer, so it can run over an unbounded stream piece by piece:
:class:`~.streaming.Seq2SeqStream` carries each layer's state between calls (``init_state(batch)``,
``step(piece, state) -> (output, state)``) and its outputs equal one causal pass over the whole stream
(``"none"`` streams too: it has no memory). ``softmax`` and ``forgetting`` attention (every frame attends
to all others) and bidirectional encoders (backward heads start from the clip's end) cannot stream and
are refused with a ``ValueError``. SER models built with ``SERConfig(seq2seq_bidirectional=False)``
stream end to end: ``model.stream_step`` and ``hf_ser.pipeline(...).stream`` (see
:mod:`.streaming`).

ONNX export (``torch.onnx.export`` of a tiny encoder with dynamic batch and frame axes, checked
against onnxruntime at two lengths; torch 2.13): ``ONNX_EXPORTABLE`` lists the mechanisms that
export. The linear mechanisms do not: their chunkwise kernels loop in Python over a number of
chunks that depends on the input length, which ``torch.export`` cannot trace with a dynamic frame
axis (the legacy TorchScript exporter unrolls the loop for the example length only). ``delta`` and ``kda``
also need ``torch.linalg.solve_triangular``, which has no ONNX operator.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .mixer_base import TokenMixer
from .mixers_gated import GatedSlotAttentionMixer, KimiDeltaAttentionMixer, LightNetMixer
from .mixers_linear import KERNEL_MODES, GatedDeltaRuleMixer, GatedLinearAttentionMixer, RetentionMixer
from .mixers_softmax import ForgettingAttentionMixer, SoftmaxAttentionMixer

SEQ2SEQ_MECHANISMS = ("none", "softmax", "retention", "gla", "forgetting", "delta", "lightnet", "gsa", "kda")
LINEAR_MECHANISMS = ("retention", "gla", "delta", "lightnet", "gsa", "kda")
ONNX_EXPORTABLE = ("none", "softmax", "forgetting")


class IdentityMixer(TokenMixer):
    """The ``"none"`` mechanism: value and output projections per frame, no mixing across frames."""

    causal = False

    def __init__(self, hidden_size: int, num_heads: int, bidirectional: bool = True) -> None:
        super().__init__(hidden_size, num_heads, bidirectional)
        self.v_proj = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None, mode: str = "chunk"
    ) -> torch.Tensor:
        return self.o_proj(self.v_proj(hidden_states))


def build_token_mixer(
    mechanism: str,
    hidden_size: int,
    num_heads: int,
    bidirectional: bool = True,
    chunk_size: Optional[int] = None,
) -> TokenMixer:
    """Instantiate the token mixer of a mechanism name from ``SEQ2SEQ_MECHANISMS``."""
    if mechanism in LINEAR_MECHANISMS:
        mixer_class = {
            "retention": RetentionMixer,
            "gla": GatedLinearAttentionMixer,
            "delta": GatedDeltaRuleMixer,
            "lightnet": LightNetMixer,
            "gsa": GatedSlotAttentionMixer,
            "kda": KimiDeltaAttentionMixer,
        }[mechanism]
        return mixer_class(hidden_size, num_heads, bidirectional, chunk_size=chunk_size)
    if mechanism == "none":
        return IdentityMixer(hidden_size, num_heads, bidirectional)
    if mechanism == "softmax":
        return SoftmaxAttentionMixer(hidden_size, num_heads, bidirectional)
    if mechanism == "forgetting":
        return ForgettingAttentionMixer(hidden_size, num_heads, bidirectional)
    raise ValueError(f"Unknown seq2seq mechanism {mechanism!r}; choose one of {SEQ2SEQ_MECHANISMS}.")


class FeedForward(nn.Module):
    """Position-wise feed-forward network: Linear -> GELU -> dropout -> Linear."""

    def __init__(self, hidden_size: int, intermediate_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = nn.Linear(hidden_size, intermediate_size)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.down = nn.Linear(intermediate_size, hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.down(self.dropout(self.act(self.up(hidden_states))))


class Seq2SeqBlock(nn.Module):
    """Pre-norm block: ``x = x + drop(mixer(LN(x)))``, ``x = x + drop(FFN(LN(x)))``."""

    def __init__(
        self,
        mechanism: str,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        dropout: float = 0.0,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.mixer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.mixer = build_token_mixer(mechanism, hidden_size, num_heads, bidirectional, chunk_size)
        self.ffn_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.ffn = FeedForward(hidden_size, intermediate_size, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, hidden_states: torch.Tensor, mask: Optional[torch.Tensor] = None, mode: str = "chunk"
    ) -> torch.Tensor:
        return self.apply_residuals(hidden_states, lambda normed: self.mixer(normed, mask, mode))

    def apply_residuals(self, hidden_states: torch.Tensor, mix) -> torch.Tensor:
        """The block around a token-mixing function ``mix(normed_frames) -> frames`` (streaming passes
        one that carries the mixer's recurrent state)."""
        hidden_states = hidden_states + self.dropout(mix(self.mixer_norm(hidden_states)))
        return hidden_states + self.dropout(self.ffn(self.ffn_norm(hidden_states)))


class Seq2SeqEncoder(nn.Module):
    """A stack of :class:`Seq2SeqBlock` with one token-mixing mechanism, plus a final LayerNorm.

    Args:
        mechanism (`str`): one of ``SEQ2SEQ_MECHANISMS`` (see the module docstring).
        hidden_size (`int`): width of the frame features (input and output).
        num_heads (`int`): attention heads; must divide `hidden_size`.
        num_layers (`int`, *optional*, defaults to 2): number of blocks.
        intermediate_size (`int`, *optional*): feed-forward width, defaults to ``4 * hidden_size``.
        dropout (`float`, *optional*, defaults to 0.0): dropout on the residual branches and in the FFN.
        bidirectional (`bool`, *optional*, defaults to `True`): whole-clip context (softmax attends
            both ways; causal mechanisms split their heads between the two directions). `False` gives
            a causal encoder, usable for streaming with ``mode="recurrent"``.
        chunk_size (`int`, *optional*): chunk length of the chunkwise linear kernels; by default each
            mechanism's own (64 frames; 32 for ``delta`` and ``kda``, whose per-chunk UT transform is cubic
            in it).
        layer_norm_eps (`float`, *optional*, defaults to 1e-5): LayerNorm epsilon.
    """

    def __init__(
        self,
        mechanism: str,
        hidden_size: int,
        num_heads: int,
        num_layers: int = 2,
        intermediate_size: Optional[int] = None,
        dropout: float = 0.0,
        bidirectional: bool = True,
        chunk_size: Optional[int] = None,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if mechanism not in SEQ2SEQ_MECHANISMS:
            raise ValueError(f"Unknown seq2seq mechanism {mechanism!r}; choose one of {SEQ2SEQ_MECHANISMS}.")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.mechanism = mechanism
        self.hidden_size = hidden_size
        self.layers = nn.ModuleList(
            Seq2SeqBlock(
                mechanism,
                hidden_size,
                num_heads,
                intermediate_size or 4 * hidden_size,
                dropout,
                bidirectional,
                chunk_size,
                layer_norm_eps,
            )
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def check_inputs(
        self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]
    ) -> Optional[torch.Tensor]:
        """Check frame features (and mask) against the encoder; return the mask as bool (or None)."""
        if hidden_states.dim() != 3 or hidden_states.shape[-1] != self.hidden_size:
            raise ValueError(
                f"Expected hidden_states of shape (batch, frames, {self.hidden_size}), "
                f"got {tuple(hidden_states.shape)}."
            )
        if attention_mask is None:
            return None
        if attention_mask.shape != hidden_states.shape[:2]:
            raise ValueError(
                f"attention_mask shape {tuple(attention_mask.shape)} does not match the frames "
                f"{tuple(hidden_states.shape[:2])}."
            )
        return attention_mask.bool()

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        mode: str = "chunk",
    ) -> torch.Tensor:
        """Encode ``(batch, frames, hidden_size)`` frame features.

        Args:
            hidden_states (`torch.Tensor` of shape `(batch, frames, hidden_size)`): frame features.
            attention_mask (`torch.Tensor` of shape `(batch, frames)`, *optional*): frame mask, bool or
                0/1, ``True`` for real frames, right padding only.
            mode (`str`, *optional*, defaults to `"chunk"`): ``"chunk"`` or ``"recurrent"`` kernels for
                the linear mechanisms (same result; ignored by the others).

        Returns:
            `torch.Tensor` of shape `(batch, frames, hidden_size)`; padded frames are zeros.
        """
        if mode not in KERNEL_MODES:
            raise ValueError(f"mode must be one of {KERNEL_MODES}, got {mode!r}.")
        mask = self.check_inputs(hidden_states, attention_mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask, mode)
        hidden_states = self.final_norm(hidden_states)
        if mask is not None:
            hidden_states = hidden_states * mask.unsqueeze(-1).to(hidden_states.dtype)
        return hidden_states

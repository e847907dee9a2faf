"""Streaming inference: feed audio (or frames) piece by piece and get a running prediction after each.

A causal seq2seq encoder with a linear mechanism is a recurrence: each layer's token mixer keeps a
state ``S`` (per head, ``head_dim x head_dim``) that summarises every past frame, and the rest of a
block (LayerNorms, feed-forward, residuals) works frame by frame. So the encoder can run over an
unbounded stream in pieces, carrying one state per layer between calls, with outputs *equal* to one
causal pass over the whole sequence. The poolings are softmax-weighted means and stream exactly too
(:class:`~.pooling.StreamingPoolingMixin`). Three levels:

- :class:`Seq2SeqStream`: a causal :class:`~.seq2seq.Seq2SeqEncoder` over frame pieces of any length
  (pieces of more than ``RECURRENT_MAX_FRAMES`` frames go through the chunkwise kernels with
  ``initial_state``, shorter ones through the recurrent kernels).
- :class:`~.pooling.StreamingPoolingMixin` (``pooling.stream_update`` / ``stream_output``).
- :func:`ser_stream_step` (``SERModelForAudioClassification.stream_step``): audio piece -> backbone ->
  layer mix -> encoder stream -> pooling accumulators -> heads, returning the running logits.

What cannot stream exactly, and is refused with a ``ValueError``: bidirectional encoders (their
backward heads need the end of the clip first), ``softmax`` and ``forgetting`` attention (every frame
attends to all others: the past would have to be kept and re-read). The SSL *backbone* is not
streamable either (a transformer over the whole input): :func:`ser_stream_step` runs it on each audio
piece on its own, exactly as the pipeline's chunking does with windows, so frames near a piece
boundary see less context than in a one-shot pass. What is exact is everything after the backbone:
the running prediction after pieces ``p_1..p_n`` equals running the backbone on each piece,
concatenating their frames and applying seq2seq, pooling and heads once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import torch

from .mixer_base import TokenMixer
from .mixers_linear import LinearMixer
from .outputs import SERModelOutput
from .pooling import PoolingStreamState, StreamingPoolingMixin
from .seq2seq import LINEAR_MECHANISMS, Seq2SeqEncoder

STREAMABLE_MECHANISMS = ("none",) + LINEAR_MECHANISMS
"""Seq2seq mechanisms that stream exactly (with ``bidirectional=False``; ``"none"`` always)."""

RECURRENT_MAX_FRAMES = 4
"""Pieces of at most this many frames run the frame-by-frame kernels; longer ones the chunkwise
kernels (same result, the chunkwise form is faster beyond a few frames)."""


@dataclass
class Seq2SeqStreamState:
    """Recurrent state of a streamed causal :class:`~.seq2seq.Seq2SeqEncoder`, one row per stream.

    Args:
        layer_states (`tuple`): per layer, the token mixer's state (``mixer.initial_state``): a tensor of
            shape `(batch, heads, head_dim, head_dim)`; for ``lightnet`` also the running normaliser
            `(batch, heads, head_dim)` and for ``gsa`` the slot keys and values (a tuple of tensors);
            `None` for ``mechanism="none"`` (no memory).
        frames (`torch.LongTensor` of shape `(batch,)`): real frames consumed so far by each stream.
    """

    layer_states: tuple[Any, ...]
    frames: torch.Tensor


@dataclass
class SERStreamState:
    """State of a streamed :class:`~.modeling_ser.SERModelForAudioClassification` between audio pieces.

    Args:
        encoder (`Seq2SeqStreamState`, *optional*): seq2seq state; `None` for models without seq2seq.
        pooling (`PoolingStreamState`, *optional*): pooling accumulators; `None` before the first piece.
        frames (`torch.LongTensor` of shape `(batch,)`): backbone frames consumed so far per stream.
    """

    encoder: Optional[Seq2SeqStreamState]
    pooling: Optional[PoolingStreamState]
    frames: torch.Tensor


def _mixer_is_causal(mixer: TokenMixer) -> bool:
    """Whether every head of a token mixer reads the frames forwards only."""
    return mixer.num_forward_heads == mixer.num_heads


def check_streamable_encoder(encoder: Seq2SeqEncoder) -> None:
    """Raise a `ValueError` naming the reason unless ``encoder`` streams exactly.

    Streamable: ``mechanism="none"``, or a linear mechanism (``LINEAR_MECHANISMS``: retention, GLA,
    delta, LightNet, GSA, KDA) built with ``bidirectional=False`` (or a single head, which has no
    backward half).
    """
    if encoder.mechanism not in STREAMABLE_MECHANISMS:
        raise ValueError(
            f"A seq2seq encoder with mechanism={encoder.mechanism!r} cannot stream: every frame attends to "
            "all other frames, so the whole past would have to be kept and re-read at each piece. "
            f"Streaming needs one of {STREAMABLE_MECHANISMS} (linear ones causal: bidirectional=False); "
            "otherwise classify whole clips or windows (pipeline chunk_length_s=)."
        )
    if encoder.mechanism != "none" and not all(_mixer_is_causal(layer.mixer) for layer in encoder.layers):
        raise ValueError(
            f"This {encoder.mechanism!r} seq2seq encoder is bidirectional (bidirectional=True): half of its "
            "heads read the clip backwards, from its end, which a stream has not reached yet. Streaming "
            "needs a causal encoder: build it with bidirectional=False (SERConfig(seq2seq_bidirectional="
            "False)) and train it that way; otherwise classify whole clips or windows (chunk_length_s=)."
        )


def _linear_mixer_step(
    mixer: LinearMixer, hidden_states: torch.Tensor, mask: Optional[torch.Tensor], state: Any
) -> tuple[torch.Tensor, Any]:
    """One piece through a causal linear token mixer, starting from ``state``; returns the new state.

    Same computation as ``TokenMixer.forward`` (project -> kernel -> head norm -> output projection)
    with the kernels' ``initial_state`` / ``final_state`` carrying the recurrence between pieces.
    """
    projected = mixer.project(hidden_states, None)  # causal: no backward heads to rearrange
    if mask is not None:
        projected = mixer.hold_padded_frames(projected, mask)
    mode = "recurrent" if hidden_states.shape[1] <= RECURRENT_MAX_FRAMES else "chunk"
    heads, state = mixer.run_kernel(projected, mode, initial_state=state)
    return mixer.o_proj(mixer.merge_heads(mixer.finish(heads))), state


class Seq2SeqStream:
    """Run a causal :class:`~.seq2seq.Seq2SeqEncoder` over a stream of frame pieces.

    The object holds no state itself (so one instance serves any number of streams): the caller keeps
    the :class:`Seq2SeqStreamState` returned by :meth:`step` and passes it to the next call. Each row
    of a batch is an independent stream.

    Args:
        encoder (`Seq2SeqEncoder`): mechanism ``"none"``, or one of ``LINEAR_MECHANISMS``
            with ``bidirectional=False``; anything else raises a `ValueError` saying why and what to do.

    Example:

    ```python
    >>> import torch
    >>> from hf_ser.models.seq2seq import Seq2SeqEncoder
    >>> from hf_ser.models.streaming import Seq2SeqStream
    >>> encoder = Seq2SeqEncoder("gla", hidden_size=16, num_heads=2, bidirectional=False).eval()
    >>> frames = torch.randn(1, 50, 16)
    >>> stream = Seq2SeqStream(encoder)
    >>> state = stream.init_state(batch_size=1)
    >>> pieces = []
    >>> for piece in frames.split([3, 20, 27], dim=1):
    ...     output, state = stream.step(piece, state)
    ...     pieces.append(output)
    >>> torch.allclose(torch.cat(pieces, dim=1), encoder(frames), atol=1e-4)
    True

    ```
    """

    def __init__(self, encoder: Seq2SeqEncoder) -> None:
        check_streamable_encoder(encoder)
        self.encoder = encoder

    def init_state(
        self,
        batch_size: int,
        device: Optional[torch.device] = None,
        dtype: torch.dtype = torch.float32,
    ) -> Seq2SeqStreamState:
        """Empty state (nothing seen yet) for ``batch_size`` streams."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        device = device if device is not None else self.encoder.final_norm.weight.device
        layer_states = []
        for layer in self.encoder.layers:
            mixer = layer.mixer
            if isinstance(mixer, LinearMixer):
                layer_states.append(mixer.initial_state(batch_size, device, dtype))
            else:
                layer_states.append(None)
        frames = torch.zeros(batch_size, dtype=torch.long, device=device)
        return Seq2SeqStreamState(layer_states=tuple(layer_states), frames=frames)

    def step(
        self,
        hidden_states: torch.Tensor,
        state: Seq2SeqStreamState,
        attention_mask: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, Seq2SeqStreamState]:
        """Encode the next piece of every stream.

        Args:
            hidden_states (`torch.Tensor` of shape `(batch, frames, hidden_size)`): the next frames of each
                stream (any number of frames, 0 included).
            state (`Seq2SeqStreamState`): from :meth:`init_state` or the previous :meth:`step`.
            attention_mask (`torch.Tensor` of shape `(batch, frames)`, *optional*): frame mask, `True` =
                real frame; padded frames leave a row's state untouched (rows may get pieces of
                different lengths) and are zeros in the output.

        Returns:
            `(output, state)`: the encoded piece, `(batch, frames, hidden_size)`, equal to the matching
            frames of one causal ``encoder(...)`` pass over the whole stream, and the new state.
        """
        encoder = self.encoder
        mask = encoder.check_inputs(hidden_states, attention_mask)
        if hidden_states.shape[0] != state.frames.shape[0]:
            raise ValueError(
                f"The piece has {hidden_states.shape[0]} rows but the state holds {state.frames.shape[0]} "
                "streams; use init_state(batch_size=...) with the piece's batch size."
            )
        if hidden_states.shape[1] == 0:
            return hidden_states, state
        new_states = []
        for layer, layer_state in zip(encoder.layers, state.layer_states, strict=True):
            carried = [layer_state]

            def mix(normed: torch.Tensor, mixer: TokenMixer = layer.mixer, carried: list = carried):
                if carried[0] is None:  # "none": per-frame projections, nothing to carry
                    return mixer(normed, mask)
                mixed, carried[0] = _linear_mixer_step(mixer, normed, mask, carried[0])
                return mixed

            hidden_states = layer.apply_residuals(hidden_states, mix)
            new_states.append(carried[0])
        hidden_states = encoder.final_norm(hidden_states)
        if mask is not None:
            hidden_states = hidden_states * mask.unsqueeze(-1).to(hidden_states.dtype)
        consumed = mask.long().sum(-1) if mask is not None else hidden_states.shape[1]
        return hidden_states, Seq2SeqStreamState(
            layer_states=tuple(new_states), frames=state.frames + consumed
        )


def check_streamable_model(model: Any) -> None:
    """Raise a `ValueError` naming the reason unless an SER model can stream (see :func:`ser_stream_step`).

    Needs: no seq2seq, or a streamable one (:func:`check_streamable_encoder`); a pooling with a running
    form (:class:`~.pooling.StreamingPoolingMixin`, all built-in poolings); no text input (a transcript
    belongs to the whole clip, not to a stream).
    """
    if getattr(model.config, "text_backbone", None) is not None:
        raise ValueError(
            "The model reads a transcript as a second input (SERConfig(text_backbone=...)), which streaming "
            "has no place for; classify whole clips with pipe(audio, text=...)."
        )
    if model.seq2seq is not None:
        check_streamable_encoder(model.seq2seq)
    if not isinstance(model.pooling, StreamingPoolingMixin):
        raise ValueError(
            f"The model's pooling ({type(model.pooling).__name__}) has no exact running form, so the model "
            "cannot stream; built-in poolings that can: mean, soft_attention, multihead_attention, "
            "attentive_stats."
        )


def init_ser_stream_state(model: Any, batch_size: int = 1) -> SERStreamState:
    """Empty :class:`SERStreamState` for ``batch_size`` streams (after checking the model can stream)."""
    check_streamable_model(model)
    device = next(model.parameters()).device
    encoder = None if model.seq2seq is None else Seq2SeqStream(model.seq2seq).init_state(batch_size, device)
    frames = torch.zeros(batch_size, dtype=torch.long, device=device)
    return SERStreamState(encoder=encoder, pooling=None, frames=frames)


def ser_stream_step(
    model: Any,
    input_values: torch.Tensor,
    state: Optional[SERStreamState] = None,
    attention_mask: Optional[torch.Tensor] = None,
) -> tuple[SERModelOutput, SERStreamState]:
    """Feed the next audio piece of each stream to an SER model; return the running prediction.

    The backbone and layer mix run on the piece alone (see the module docstring); its frames then go
    through the seq2seq stream and into the pooling accumulators, and the heads are applied to the
    pooled vector of all frames so far. Run it under ``torch.inference_mode()`` (and ``model.eval()``).

    Args:
        model (`SERModelForAudioClassification`): a model that passes :func:`check_streamable_model`.
        input_values (`torch.FloatTensor` of shape `(batch, samples)`): the next piece of each stream, as
            returned by the feature extractor for that piece.
        state (`SERStreamState`, *optional*): from the previous call; `None` starts new streams.
        attention_mask (`torch.LongTensor` of shape `(batch, samples)`, *optional*): sample mask of a
            padded batch of pieces (padding contributes nothing to any state).

    Returns:
        `(output, state)`: a `SERModelOutput` with the running `logits`, `regression` and `pooled`
        (no loss, no frame weights), and the state to pass with the next piece.
    """
    if input_values.dim() != 2:
        raise ValueError(f"input_values must have shape (batch, samples), got {tuple(input_values.shape)}.")
    check_streamable_model(model)
    if state is None:
        state = init_ser_stream_state(model, input_values.shape[0])
    elif state.frames.shape[0] != input_values.shape[0]:
        raise ValueError(
            f"The piece has {input_values.shape[0]} rows but the state holds {state.frames.shape[0]} streams."
        )
    samples = (
        attention_mask.long().sum(-1) if attention_mask is not None else torch.tensor([input_values.shape[1]])
    )
    frames_per_piece = model.backbone._get_feat_extract_output_lengths(samples.min())
    if int(frames_per_piece) < 1:
        raise ValueError(
            f"An audio piece of {int(samples.min())} samples is shorter than one backbone frame; feed pieces "
            "of at least 0.1 s (e.g. buffer microphone blocks)."
        )
    _, hidden, mask = model.frame_features(input_values, attention_mask)
    encoder_state = state.encoder
    if model.seq2seq is not None:
        hidden, encoder_state = Seq2SeqStream(model.seq2seq).step(hidden, state.encoder, mask)
    pooling_state = model.pooling.stream_update(
        hidden, state.pooling, mask if model.config.mask_pooling else None
    )
    pooled = model.pooling.stream_output(pooling_state).pooled.to(hidden.dtype)
    _, regression, logits, _ = model._apply_heads(pooled, None, None)
    consumed = mask.long().sum(-1) if mask is not None else hidden.shape[1]
    new_state = replace(state, encoder=encoder_state, pooling=pooling_state, frames=state.frames + consumed)
    return SERModelOutput(logits=logits, regression=regression, pooled=pooled), new_state


__all__ = [
    "RECURRENT_MAX_FRAMES",
    "STREAMABLE_MECHANISMS",
    "SERStreamState",
    "Seq2SeqStream",
    "Seq2SeqStreamState",
    "check_streamable_encoder",
    "check_streamable_model",
    "init_ser_stream_state",
    "ser_stream_step",
]

"""Text as a second input (paper 000): a frozen text encoder whose token states join the audio frames.

Paper 000 (Casals-Salvador & Costa, 2026) feeds frozen speech *and* text extractors to the seq2seq
module, then attention pooling and a classifier. This module holds the text side:

- :func:`build_text_backbone` / :func:`load_pretrained_text_backbone`: any transformers text encoder
  through ``AutoModel`` (random from its config for tests, ``from_pretrained`` for real ids: the same
  split as the speech backbone in :mod:`.backbone`);
- :class:`TextFusion`: projects the token states to the audio frame width and fuses them with the
  frames, as ``TEXT_FUSIONS`` lists:

  - ``"concat"``: each clip's real audio frames followed by its real text tokens, one sequence per clip
    (a learned modality embedding added to each part), so the seq2seq module and the pooling run over
    both. The packed sequence is right-padded (real audio, real text, then padding), which keeps the
    seq2seq contract (right padding only) and makes the result independent of how much padding either
    input had.
  - ``"cross_attention"``: the audio frames attend to the text tokens (one ``nn.MultiheadAttention`` block
    with a pre-norm residual); the sequence stays the audio frames. A clip without text tokens keeps its
    frames unchanged.

A clip without a transcript (``text_input_ids`` not given, or a row whose text mask is all zeros) takes
the audio-only path through the same weights.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel

from .masks import lengths_to_mask

TEXT_FUSIONS = ("concat", "cross_attention")


def build_text_backbone(config: PreTrainedConfig) -> PreTrainedModel:
    """A randomly initialised text encoder from its config (weights come later from a checkpoint)."""
    return AutoModel.from_config(config)


def load_pretrained_text_backbone(
    pretrained_model_name_or_path: Union[str, os.PathLike],
    config: Optional[PreTrainedConfig] = None,
    **kwargs: Any,
) -> PreTrainedModel:
    """Load a text encoder with ``AutoModel.from_pretrained`` (safetensors only unless told otherwise,
    as :func:`.backbone.load_pretrained_backbone`)."""
    kwargs.setdefault("use_safetensors", True)
    if config is None:
        config = AutoConfig.from_pretrained(pretrained_model_name_or_path)
    return AutoModel.from_pretrained(pretrained_model_name_or_path, config=config, **kwargs)


def text_hidden_size(config: PreTrainedConfig) -> int:
    """Width of the text encoder's token states (``hidden_size``, or ``d_model`` for T5-style configs)."""
    size = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
    if not size:
        raise ValueError(f"Cannot tell the hidden size of text backbone config {type(config).__name__}.")
    return int(size)


def full_mask(hidden_states: torch.Tensor) -> torch.Tensor:
    """An all-real ``(batch, frames)`` mask for ``hidden_states`` given without one."""
    return torch.ones(hidden_states.shape[:2], dtype=torch.bool, device=hidden_states.device)


def pack_real_first(hidden_states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's real positions to the front (in order), padding to the back.

    Returns the packed ``(batch, frames, hidden)`` states, zero at padding, and their right-padded mask.
    """
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
    packed = torch.gather(hidden_states, 1, order.unsqueeze(-1).expand_as(hidden_states))
    packed_mask = lengths_to_mask(mask.sum(dim=1), mask.shape[1])
    return packed * packed_mask.unsqueeze(-1).to(packed.dtype), packed_mask


class TextFusion(nn.Module):
    """Project text token states to the audio width and fuse them with the audio frames.

    Args:
        fusion (`str`): ``"concat"`` or ``"cross_attention"`` (see the module docstring).
        text_size (`int`): width of the text encoder's token states.
        hidden_size (`int`): width of the audio frames (the seq2seq / pooling width).
        num_heads (`int`): heads of the cross-attention (must divide `hidden_size`).
    """

    def __init__(self, fusion: str, text_size: int, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        if fusion not in TEXT_FUSIONS:
            raise ValueError(f"Unknown text_fusion {fusion!r}; choose one of {', '.join(TEXT_FUSIONS)}.")
        self.fusion = fusion
        self.projection = nn.Linear(text_size, hidden_size)
        if fusion == "concat":
            self.modality_embedding = nn.Embedding(2, hidden_size)  # 0 = audio frame, 1 = text token
        else:
            self.query_norm = nn.LayerNorm(hidden_size)
            self.cross_attention = nn.MultiheadAttention(hidden_size, num_heads, batch_first=True)

    def forward(
        self,
        frames: torch.Tensor,
        frame_mask: Optional[torch.Tensor],
        text_states: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Fuse ``(batch, frames, hidden)`` audio with ``(batch, tokens, text_size)`` text states.

        Returns the fused frames and their mask: for ``"concat"`` the packed audio + text sequence
        (``(batch, frames + tokens, hidden)``, right-padded), for ``"cross_attention"`` the audio frames
        and their unchanged mask.
        """
        text = self.projection(text_states)
        text_mask = text_mask.bool()
        if self.fusion == "concat":
            return self.concat(frames, frame_mask, text, text_mask)
        return self.attend(frames, text, text_mask), frame_mask

    def audio_only(
        self, frames: torch.Tensor, frame_mask: Optional[torch.Tensor]
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The fused frames of clips without any text token (no transcript given): for ``"concat"`` the
        audio frames with their modality embedding, for ``"cross_attention"`` the frames unchanged."""
        if self.fusion == "concat":
            return frames + self.modality_embedding.weight[0], frame_mask
        return frames, frame_mask

    def concat(
        self,
        frames: torch.Tensor,
        frame_mask: Optional[torch.Tensor],
        text: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio frames then text tokens along time, each with its modality embedding, packed per clip."""
        audio = frames + self.modality_embedding.weight[0]
        text = text + self.modality_embedding.weight[1]
        mask = torch.cat([full_mask(frames) if frame_mask is None else frame_mask.bool(), text_mask], dim=1)
        return pack_real_first(torch.cat([audio, text.to(audio.dtype)], dim=1), mask)

    def attend(self, frames: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """``frames + MHA(LN(frames), text, text)``; clips without text tokens keep their frames."""
        has_text = text_mask.any(dim=1)
        # A row with every key masked would give NaN: let it see one (ignored) token, then drop its update.
        first = torch.arange(text_mask.shape[1], device=text_mask.device) == 0
        safe_mask = text_mask | ((~has_text).unsqueeze(1) & first)
        update, _ = self.cross_attention(
            self.query_norm(frames), text.to(frames.dtype), text.to(frames.dtype),
            key_padding_mask=~safe_mask, need_weights=False,
        )  # fmt: skip
        return frames + update * has_text.view(-1, 1, 1).to(update.dtype)


__all__ = [
    "TEXT_FUSIONS",
    "TextFusion",
    "build_text_backbone",
    "load_pretrained_text_backbone",
    "pack_real_first",
    "text_hidden_size",
]

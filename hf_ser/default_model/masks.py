"""Attention-mask helpers: the one place where padding masks are built and converted.

Every module in ``hf_ser.models`` that pools, attends or averages over time takes a *frame mask*: a
``(batch, frames)`` boolean tensor that is ``True`` for real frames and ``False`` for padding. Audio
models receive a *sample mask* (``(batch, samples)``, 1 = real sample) from the feature extractor;
:func:`sample_mask_to_frame_mask` turns one into the other with the backbone's own length formula so
that a clip padded inside a batch sees exactly the frames it would see alone.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Return a ``(batch, max_length)`` boolean mask that is ``True`` for positions ``< lengths``."""
    positions = torch.arange(max_length, device=lengths.device)
    return positions.unsqueeze(0) < lengths.to(positions.dtype).unsqueeze(1)


def sample_mask_to_frame_mask(
    attention_mask: Optional[torch.Tensor],
    num_frames: int,
    output_lengths: Callable[[torch.Tensor], torch.Tensor],
) -> Optional[torch.Tensor]:
    """Convert a sample-level mask to a frame-level boolean mask.

    Args:
        attention_mask (`torch.Tensor` of shape `(batch, samples)` or `None`):
            1 for real samples, 0 for padding. Padding must be at the end (right padding).
        num_frames (`int`):
            Number of frames the encoder produced for the padded batch.
        output_lengths (`Callable`):
            Maps a tensor of sample counts to frame counts, e.g. a wav2vec2 model's
            ``_get_feat_extract_output_lengths``.

    Returns:
        A `(batch, num_frames)` boolean tensor, or `None` when `attention_mask` is `None`.
    """
    if attention_mask is None:
        return None
    sample_lengths = attention_mask.long().sum(dim=-1)
    frame_lengths = output_lengths(sample_lengths).long().clamp(min=1, max=num_frames)
    return lengths_to_mask(frame_lengths, num_frames)


def masked_fill_min(scores: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Replace scores at padded positions by the dtype's lowest value (out of place).

    ``scores`` has the mask's shape, or the mask's shape followed by extra trailing dimensions
    (e.g. one score per attention head): the mask is broadcast over them.
    """
    if mask is None:
        return scores
    while mask.dim() < scores.dim():
        mask = mask.unsqueeze(-1)
    return scores.masked_fill(~mask.bool(), torch.finfo(scores.dtype).min)


def masked_mean(hidden_states: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean over the time axis (dim 1) of ``(batch, frames, features)``, counting only real frames."""
    if mask is None:
        return hidden_states.mean(dim=1)
    weights = mask.to(hidden_states.dtype).unsqueeze(-1)
    return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

"""Padding-exact convolutional feature encoder for group-norm wav2vec2-family backbones.

wav2vec2-base, HuBERT-base and distilhubert (``feat_extract_norm="group"``) normalise the first
convolution's output per channel over *time* (a ``GroupNorm`` with one group per channel). Over a padded
batch the stock encoder takes those statistics over the clip *and its zero padding*, so a clip padded
inside a batch gets slightly different frames (1e-3..7e-3 in the logits) from the clip alone.

:class:`MaskedFeatureEncoder` replaces the backbone's ``feature_extractor`` with a module that holds the
*same* ``conv_layers`` (so parameter names, the state dict and pretrained checkpoints are unchanged) and
runs them with the sample mask:

- each conv layer's valid output length follows from the valid input length with the layer's kernel and
  stride (the per-layer form of transformers' ``_get_feat_extract_output_lengths``);
- the first layer's group norm takes its mean and variance over each clip's valid time steps only, with
  the layer's own weight, bias and eps;
- padded positions are zeroed after every conv layer.

A clip alone (mask all ones) gives the stock transformers output. The mask reaches the encoder through
:func:`feature_encoder_mask`, a context manager around the backbone call: transformers calls the feature
encoder with the waveform only. The mask lives in a ``ContextVar``, so concurrent threads each see their
own. Without a mask (or with a mask of another shape) the encoder runs exactly as the stock one.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator, Optional

import torch
from torch import nn

from .masks import lengths_to_mask

_SAMPLE_MASK: ContextVar[Optional[torch.Tensor]] = ContextVar("hf_ser_sample_mask", default=None)


def is_group_norm_encoder(feature_encoder: nn.Module) -> bool:
    """True when the first conv layer normalises each channel over time (``GroupNorm`` with
    ``num_groups == num_channels``, the ``feat_extract_norm="group"`` layout)."""
    layers = getattr(feature_encoder, "conv_layers", None)
    if layers is None or len(layers) == 0:
        return False
    norm = getattr(layers[0], "layer_norm", None)
    return isinstance(norm, nn.GroupNorm) and norm.num_groups == norm.num_channels


def conv_output_lengths(lengths: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Valid output length of an unpadded ``conv`` for valid input ``lengths`` (never below 0)."""
    kernel, stride = conv.kernel_size[0], conv.stride[0]
    return (torch.div(lengths - kernel, stride, rounding_mode="floor") + 1).clamp(min=0)


def masked_channel_norm(hidden: torch.Tensor, mask: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
    """Per-channel group norm of ``(batch, channels, time)`` over the valid steps of ``mask`` only.

    Statistics are computed in float32 (as autocast runs ``group_norm``); padded steps come out as zero.
    """
    values = hidden.float()
    weights = mask.to(values.dtype).unsqueeze(1)
    count = weights.sum(-1, keepdim=True).clamp(min=1.0)
    mean = (values * weights).sum(-1, keepdim=True) / count
    centred = (values - mean) * weights
    variance = centred.pow(2).sum(-1, keepdim=True) / count
    normed = centred * torch.rsqrt(variance + norm.eps)
    if norm.affine:
        normed = normed * norm.weight.float()[:, None] + norm.bias.float()[:, None]
    return normed * weights


def _first_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Conv -> masked group norm -> activation of the first (group-norm) conv layer."""
    return layer.activation(masked_channel_norm(layer.conv(hidden), mask, layer.layer_norm))


def masked_conv_stack(
    conv_layers: nn.ModuleList, hidden: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Run a group-norm conv stack on ``(batch, 1, samples)`` audio so that padding changes nothing.

    Returns ``(batch, channels, frames)`` like the stock encoder; frames past a clip's valid length are 0.
    """
    lengths = attention_mask.long().sum(-1)
    for index, layer in enumerate(conv_layers):
        lengths = conv_output_lengths(lengths, layer.conv)
        if index == 0:
            num_steps = (hidden.shape[-1] - layer.conv.kernel_size[0]) // layer.conv.stride[0] + 1
            mask = lengths_to_mask(lengths, num_steps)
            hidden = _first_layer(layer, hidden, mask)
        else:
            hidden = layer(hidden)
            mask = lengths_to_mask(lengths, hidden.shape[-1])
        hidden = hidden * mask.unsqueeze(1).to(hidden.dtype)
    return hidden


class MaskedFeatureEncoder(nn.Module):
    """Drop-in ``feature_extractor`` of a group-norm backbone that honours the sample mask.

    It keeps the stock encoder's ``conv_layers`` (same parameters and names), its freezing flag and
    ``_freeze_parameters``, so pretrained weights, freezing and ``save_pretrained`` are unchanged.

    Args:
        encoder (`nn.Module`): the backbone's stock feature encoder (e.g. ``Wav2Vec2FeatureEncoder``).
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.conv_layers = encoder.conv_layers
        self.gradient_checkpointing = getattr(encoder, "gradient_checkpointing", False)
        self._requires_grad = getattr(encoder, "_requires_grad", True)
        self.train(encoder.training)

    def _freeze_parameters(self) -> None:
        """Stop gradients through the conv stack (transformers' ``freeze_feature_encoder`` calls this)."""
        for parameter in self.parameters():
            parameter.requires_grad = False
        self._requires_grad = False

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, channels, frames)``, masked when a sample mask is active."""
        hidden = input_values[:, None]
        if self._requires_grad and self.training:  # as the stock encoder, for gradient checkpointing
            hidden.requires_grad = True
        mask = _SAMPLE_MASK.get()
        if mask is not None and tuple(mask.shape) == tuple(input_values.shape):
            return masked_conv_stack(self.conv_layers, hidden, mask)
        for layer in self.conv_layers:
            hidden = layer(hidden)
        return hidden


def use_masked_feature_encoder(backbone: nn.Module) -> nn.Module:
    """Give a group-norm ``backbone`` a :class:`MaskedFeatureEncoder` in place (idempotent; other
    backbones are returned untouched). Returns ``backbone``."""
    encoder = getattr(backbone, "feature_extractor", None)
    if encoder is None or isinstance(encoder, MaskedFeatureEncoder) or not is_group_norm_encoder(encoder):
        return backbone
    backbone.feature_extractor = MaskedFeatureEncoder(encoder)
    return backbone


@contextlib.contextmanager
def feature_encoder_mask(attention_mask: Optional[torch.Tensor]) -> Iterator[None]:
    """Make ``attention_mask`` (``(batch, samples)``, 1 = real sample) visible to every
    :class:`MaskedFeatureEncoder` called inside the block (in this thread / context only)."""
    token = _SAMPLE_MASK.set(attention_mask)
    try:
        yield
    finally:
        _SAMPLE_MASK.reset(token)


__all__ = [
    "MaskedFeatureEncoder",
    "conv_output_lengths",
    "feature_encoder_mask",
    "is_group_norm_encoder",
    "masked_channel_norm",
    "masked_conv_stack",
    "use_masked_feature_encoder",
]

"""Self-supervised speech backbones: construction, pretrained loading, freezing and frame masks.

hf_ser models sit on a transformers wav2vec2, HuBERT or WavLM *base model* (no task head). This module
is the one place that maps a backbone ``model_type`` to its class, so adding a backbone family is a
one-line change to :data:`BACKBONE_CLASSES`.

Padding: every backbone gives a clip padded inside a batch the frames it gets alone. The feature encoder
of ``feat_extract_norm="layer"`` backbones (wav2vec2-large(-robust), XLS-R, HuBERT-large, WavLM)
normalises each frame on its own; ``feat_extract_norm="group"`` backbones (wav2vec2-base, HuBERT-base,
distilhubert) normalise their first convolution over time, so :func:`build_backbone` and
:func:`load_pretrained_backbone` give them a :class:`~.masked_feature_encoder.MaskedFeatureEncoder`
(same parameters) that takes those statistics over each clip's real samples only.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import torch
from torch import nn
from transformers import AutoConfig, HubertModel, PreTrainedConfig, PreTrainedModel, Wav2Vec2Model, WavLMModel

from .masked_feature_encoder import use_masked_feature_encoder
from .masks import sample_mask_to_frame_mask

BACKBONE_CLASSES: dict[str, type[PreTrainedModel]] = {
    "wav2vec2": Wav2Vec2Model,
    "hubert": HubertModel,
    "wavlm": WavLMModel,
}
BACKBONE_TYPES = tuple(BACKBONE_CLASSES)


def backbone_class(model_type: str) -> type[PreTrainedModel]:
    """Return the transformers base-model class for a backbone ``model_type``."""
    if model_type not in BACKBONE_CLASSES:
        raise ValueError(
            f"Unsupported backbone model_type {model_type!r}; choose one of {', '.join(BACKBONE_TYPES)}."
        )
    return BACKBONE_CLASSES[model_type]


def build_backbone(config: PreTrainedConfig) -> PreTrainedModel:
    """Build a randomly initialised backbone from its config (weights come later from a checkpoint);
    group-norm feature encoders are made padding-exact (:func:`use_masked_feature_encoder`)."""
    return use_masked_feature_encoder(backbone_class(config.model_type)(config))


def load_pretrained_backbone(
    pretrained_model_name_or_path: Union[str, os.PathLike],
    config: Optional[PreTrainedConfig] = None,
    **kwargs: Any,
) -> PreTrainedModel:
    """Load backbone weights with ``from_pretrained``.

    Works for base-model checkpoints and for checkpoints saved with a head (e.g. ``facebook/wav2vec2-base``
    stores ``wav2vec2.*`` weights of a pre-training model): transformers strips the base-model prefix.
    Only safetensors weights are read by default (no pickle loading); pass ``use_safetensors=False``
    explicitly to accept a trusted ``pytorch_model.bin``. Group-norm feature encoders are made
    padding-exact with the same weights (:func:`use_masked_feature_encoder`).
    """
    kwargs.setdefault("use_safetensors", True)
    if config is None:
        config = AutoConfig.from_pretrained(pretrained_model_name_or_path)
    backbone = backbone_class(config.model_type).from_pretrained(
        pretrained_model_name_or_path, config=config, **kwargs
    )
    return use_masked_feature_encoder(backbone)


def set_requires_grad(module: nn.Module, requires_grad: bool) -> None:
    """Enable or disable gradients for every parameter of ``module``."""
    for parameter in module.parameters():
        parameter.requires_grad = requires_grad


def freeze_feature_encoder(backbone: PreTrainedModel) -> None:
    """Freeze the convolutional feature encoder (waveform -> frames) of a wav2vec2-family backbone."""
    set_requires_grad(backbone.feature_extractor, False)
    backbone.feature_extractor._requires_grad = False


def frame_mask(
    backbone: PreTrainedModel, attention_mask: Optional[torch.Tensor], num_frames: int
) -> Optional[torch.Tensor]:
    """Frame mask ``(batch, frames)`` (True = real frame) for the backbone's output frames."""
    return sample_mask_to_frame_mask(attention_mask, num_frames, backbone._get_feat_extract_output_lengths)

"""Build the model and feature extractor a recipe trains, for every model family of hf_ser.

``model_type`` in the recipe config picks a family; its config, model and feature-extractor classes come
from :data:`hf_ser.auto.AUTO_CLASS_TABLE` (the one table of model families), so a family registered there
is trainable here by adding its name to :data:`FAMILY_MODEL_TYPES`. ``backbone`` is either a pretrained
SSL backbone (``"ser"`` only: new heads via ``from_backbone``) or a trained hf_ser checkpoint of the
same family (training continues from it).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, Optional

from transformers import FeatureExtractionMixin, PreTrainedConfig, PreTrainedModel, Wav2Vec2FeatureExtractor

from ..progress import quietly
from .config import TrainConfig

FAMILY_MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "ser": ("hf_ser",),
    "lstm_sa": ("hf_ser_lstm_sa",),
    "student": ("hf_ser_student", "hf_ser_wav2small"),
}
"""Recipe ``model_type`` -> transformers ``model_type`` of its config class (first registered one wins)."""

# Keys of `TrainConfig` that are forwarded to the model config; they may not also appear in `model:`.
FORWARDED_KEYS = ("task", "pooling", "freeze_feature_encoder", "ctc_alpha")


def family_classes(model_type: str) -> tuple[type[PreTrainedConfig], type[PreTrainedModel], Optional[type]]:
    """``(config_class, model_class, feature_extractor_class)`` of a recipe ``model_type``."""
    from ..auto import AUTO_CLASS_TABLE

    wanted = FAMILY_MODEL_TYPES[model_type]
    for row in AUTO_CLASS_TABLE:
        if row.config_class.model_type in wanted:
            return row.config_class, row.model_class, row.feature_extractor_class
    known = sorted(row.config_class.model_type for row in AUTO_CLASS_TABLE)
    raise ValueError(
        f"model_type {model_type!r} needs a registered config with model_type in {list(wanted)}; "
        f"hf_ser registers {known}."
    )


def config_keys(config_class: type[PreTrainedConfig]) -> set[str]:
    """Keyword options the config class accepts (its dataclass init fields, minus bookkeeping ones)."""
    internal = {
        "architectures", "transformers_version", "dtype", "chunk_size_feed_forward",
        "is_encoder_decoder", "return_dict", "output_hidden_states", "problem_type", "label2id",
    }  # fmt: skip
    if dataclasses.is_dataclass(config_class):
        names = {field.name for field in dataclasses.fields(config_class) if field.init}
    else:
        names = {key for klass in config_class.__mro__ for key in getattr(klass, "__annotations__", {})}
    return {name for name in names if not name.startswith("_")} - internal


def _checkpoint_model_type(path: str) -> Optional[str]:
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        return None
    return json.loads(config_file.read_text()).get("model_type")


def check_model_options(cfg: TrainConfig) -> None:
    """Reject ``model:`` keys the family's config does not accept, before any data or weights are read."""
    config_class, _, _ = family_classes(cfg.model_type)
    allowed = config_keys(config_class)
    unknown = sorted(set(cfg.model) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown `model` option(s) {unknown} for model_type {cfg.model_type!r} "
            f"({config_class.__name__}). "
            f"Known options: {', '.join(sorted(allowed))}."
        )
    duplicated = sorted(set(cfg.model) & set(FORWARDED_KEYS))
    if duplicated:
        raise ValueError(f"Set {duplicated} as top-level keys, not inside `model:`.")
    check_feature_extractor_options(cfg)
    if cfg.backbone_config and cfg.model_type != "ser":
        raise ValueError(
            f"`backbone_config` applies to SSL backbones (model_type 'ser'), not {cfg.model_type!r}."
        )
    if cfg.model_type == "ser":
        source_type = _checkpoint_model_type(cfg.backbone)
        if Path(cfg.backbone).exists() and source_type is None:
            raise ValueError(
                f"backbone {cfg.backbone!r} exists but has no config.json: not a model directory."
            )


def check_feature_extractor_options(cfg: TrainConfig) -> None:
    """Reject ``feature_extractor:`` keys the family's (new) feature extractor does not accept."""
    if not cfg.feature_extractor:
        return
    _, _, extractor_class = family_classes(cfg.model_type)
    if cfg.model_type == "ser" or extractor_class is None or _checkpoint_model_type(cfg.backbone):
        raise ValueError(
            f"`feature_extractor` options {sorted(cfg.feature_extractor)} apply to the new feature extractor "
            f"of model_type 'lstm_sa' or 'student', not to model_type {cfg.model_type!r} or to a trained "
            f"checkpoint (backbone {cfg.backbone!r})."
        )
    signature = inspect.signature(extractor_class.__init__).parameters
    allowed = sorted(name for name in signature if name not in ("self", "args", "kwargs"))
    unknown = sorted(set(cfg.feature_extractor) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown `feature_extractor` option(s) {unknown} for {extractor_class.__name__}. "
            f"Known options: {', '.join(allowed)}."
        )


def _config_kwargs(
    cfg: TrainConfig, config_class: type, id2label: dict[int, str], targets: list[str]
) -> dict:
    allowed = config_keys(config_class)
    kwargs: dict[str, Any] = {"task": cfg.task, **cfg.model}
    if cfg.task != "regression":
        kwargs["id2label"] = dict(id2label)
    if cfg.task != "classification":
        kwargs["regression_targets"] = list(targets)
    for key in ("pooling", "freeze_feature_encoder"):
        value = getattr(cfg, key)
        if key in allowed and value is not None:
            kwargs[key] = value
    return kwargs


@quietly
def build_model(
    cfg: TrainConfig,
    id2label: dict[int, str],
    regression_targets: list[str],
    class_weights: Optional[list[float]] = None,
    ctc_vocab: Optional[list[str]] = None,
) -> tuple[PreTrainedModel, FeatureExtractionMixin]:
    """Model and feature extractor for ``cfg`` with the data's label set.

    ``class_weights`` (one per class) switch the classification loss to weighted CE unless the config
    already chose focal loss (which then uses them as alpha). ``ctc_vocab`` (the training transcripts'
    characters) gives the model its CTC head, weighted by ``cfg.ctc_alpha``.
    """
    config_class, model_class, extractor_class = family_classes(cfg.model_type)
    kwargs = _config_kwargs(cfg, config_class, id2label, regression_targets)
    if ctc_vocab is not None:
        kwargs.update(ctc_vocab=list(ctc_vocab), ctc_alpha=cfg.ctc_alpha)
    if class_weights is not None and cfg.task != "regression":
        kwargs["class_weights"] = [float(w) for w in class_weights]
        if kwargs.get("classification_loss", "ce") == "ce":
            kwargs["classification_loss"] = "weighted_ce"
    source_type = _checkpoint_model_type(cfg.backbone)
    if source_type is not None and source_type == config_class.model_type:
        model = _continue_from_checkpoint(cfg, model_class, kwargs)
        from transformers import AutoFeatureExtractor

        return model, AutoFeatureExtractor.from_pretrained(cfg.backbone)
    if cfg.model_type == "ser":
        check_backbone_options(cfg)
        model = model_class.from_backbone(
            cfg.backbone, backbone_config_kwargs=dict(cfg.backbone_config), **kwargs
        )
        extractor = Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=16000,
            padding_value=0.0,
            do_normalize=True,
            return_attention_mask=True,
        )
        return model, extractor
    model = model_class(config_class(**kwargs))
    if extractor_class is None:
        raise ValueError(f"model_type {cfg.model_type!r} has no registered feature extractor.")
    return model, extractor_class(**cfg.feature_extractor)


def check_backbone_options(cfg: TrainConfig) -> None:
    """Reject ``backbone_config`` keys the pretrained backbone's config does not have."""
    if not cfg.backbone_config:
        return
    from transformers import AutoConfig

    backbone_config = AutoConfig.from_pretrained(cfg.backbone)
    unknown = sorted(key for key in cfg.backbone_config if not hasattr(backbone_config, key))
    if unknown:
        raise ValueError(
            f"Unknown `backbone_config` option(s) {unknown} for the {backbone_config.model_type} backbone "
            f"{cfg.backbone!r}."
        )


def _continue_from_checkpoint(cfg: TrainConfig, model_class: type, kwargs: dict) -> PreTrainedModel:
    """Load a trained checkpoint of the same family; its labels must match the data's."""
    model = model_class.from_pretrained(cfg.backbone)
    if cfg.task != "regression":
        wanted = {int(k): v for k, v in kwargs["id2label"].items()}
        have = {int(k): v for k, v in model.config.id2label.items()}
        if wanted != have:
            raise ValueError(
                f"Checkpoint {cfg.backbone!r} has labels {have} but the training data has {wanted}; "
                "restrict the data with `labels:` or start from a backbone."
            )
    if model.config.task != cfg.task:
        raise ValueError(
            f"Checkpoint {cfg.backbone!r} has task {model.config.task!r}, the config asks {cfg.task!r}."
        )
    if "ctc_vocab" in kwargs:
        if getattr(model.config, "ctc_vocab", None) != kwargs["ctc_vocab"]:
            raise ValueError(
                f"Checkpoint {cfg.backbone!r} has CTC vocabulary {getattr(model.config, 'ctc_vocab', None)} "
                f"but the training transcripts give {kwargs['ctc_vocab']}; CTC training continues only "
                "from a checkpoint with the same characters (or start from a backbone)."
            )
        model.config.ctc_alpha = kwargs["ctc_alpha"]
    return model


def apply_lora(cfg: TrainConfig, model: PreTrainedModel) -> PreTrainedModel:
    """Wrap the backbone with LoRA (``hf_ser.training.lora.add_lora``) when ``cfg.lora`` is set."""
    if not cfg.lora:
        return model
    from .lora import add_lora

    kwargs: dict[str, Any] = {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout}
    if cfg.lora_target_modules is not None:
        kwargs["target_modules"] = list(cfg.lora_target_modules)
    return add_lora(model, **kwargs)

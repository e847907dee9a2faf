"""Convert checkpoints users already have into :class:`~hf_ser.SERModelForAudioClassification`.

Supported layouts (detected from ``config.json`` and the weight names):

- **audEERING / "speech classification"** (``architectures: ["Wav2Vec2ForSpeechClassification"]``, e.g.
  ``audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim``): ``wav2vec2.*`` backbone weights and a head
  ``classifier.dense`` (hidden x hidden) -> tanh -> ``classifier.out_proj`` (labels x hidden). The original
  forward averages the last hidden state over *all* frames (``torch.mean(hidden, dim=1)``, no mask), so
  padded clips in a batch see their padding. The converted model keeps that behaviour by default
  (``config.mask_pooling=False``) so its outputs equal the original's, padded batches included; pass
  ``exact=False`` (or set ``model.config.mask_pooling = True``) for batch-invariant outputs instead.
  A/D/V checkpoints (labels arousal/dominance/valence or ``problem_type="regression"``) become
  ``task="regression"`` models whose ``logits`` are the values; categorical ones become classifiers.
- **transformers** ``Wav2Vec2ForSequenceClassification`` / ``HubertForSequenceClassification`` /
  ``WavLMForSequenceClassification``: backbone (optionally a learned weighted sum of all hidden states,
  ``layer_weights``) -> ``projector`` -> masked mean -> ``classifier``. Because mean pooling and the linear
  projector commute, this becomes mean pooling followed by a head with ``dense=projector``, no activation,
  no dropout and ``out_proj=classifier``.

Weights are read from safetensors only (no pickle loading); the backbone goes through transformers'
``from_pretrained`` (which also handles legacy parameter names).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from safetensors.torch import load_file

from .backbone import BACKBONE_TYPES, load_pretrained_backbone
from .configuration_ser import DEFAULT_REGRESSION_TARGETS, SERConfig
from .modeling_ser import SERModelForAudioClassification

SEQUENCE_CLASSIFICATION_ARCHITECTURES = {
    "Wav2Vec2ForSequenceClassification": "wav2vec2",
    "HubertForSequenceClassification": "hubert",
    "WavLMForSequenceClassification": "wavlm",
}
SPEECH_CLASSIFICATION_ARCHITECTURES = ("Wav2Vec2ForSpeechClassification", "HubertForSpeechClassification")
LAYOUTS = ("speech_classification", "sequence_classification")
# Keys of a head checkpoint's config.json that describe the head, not the backbone.
_HEAD_CONFIG_KEYS = ("architectures", "id2label", "label2id", "num_labels", "problem_type", "finetuning_task")


def _resolve_directory(
    path_or_repo_id: Union[str, os.PathLike], revision: Optional[str], **hub_kwargs: Any
) -> Path:
    """Local directory of the checkpoint (downloading config + safetensors from the Hub when needed)."""
    path = Path(path_or_repo_id)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            str(path_or_repo_id), revision=revision, allow_patterns=["*.json", "*.safetensors"], **hub_kwargs
        )
    )


def _load_state_dict(directory: Path) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint's safetensors file(s)."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ValueError(
            f"No *.safetensors weights in {directory}. hf_ser only reads safetensors (no pickle loading); "
            "convert the checkpoint first, e.g. with transformers: "
            "`AutoModel.from_pretrained(dir).save_pretrained(dir)` in a trusted environment."
        )
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    return state


def detect_layout(source_config: dict[str, Any], state: dict[str, torch.Tensor]) -> str:
    """Name of the checkpoint layout (one of :data:`LAYOUTS`); raises ``ValueError`` for others."""
    architectures = source_config.get("architectures") or []
    if any(arch in SEQUENCE_CLASSIFICATION_ARCHITECTURES for arch in architectures) or (
        "projector.weight" in state and "classifier.weight" in state
    ):
        return "sequence_classification"
    if any(arch in SPEECH_CLASSIFICATION_ARCHITECTURES for arch in architectures) or (
        "classifier.dense.weight" in state and "classifier.out_proj.weight" in state
    ):
        return "speech_classification"
    raise ValueError(
        f"Unrecognised checkpoint layout (architectures={architectures}). Supported: "
        f"{', '.join(SPEECH_CLASSIFICATION_ARCHITECTURES)} (audEERING layout) and "
        f"{', '.join(SEQUENCE_CLASSIFICATION_ARCHITECTURES)}."
    )


def _infer_task(source_config: dict[str, Any], labels: list[str]) -> str:
    if source_config.get("problem_type") == "regression":
        return "regression"
    if labels and set(labels) <= set(DEFAULT_REGRESSION_TARGETS):
        return "regression"
    return "classification"


def _labels(source_config: dict[str, Any], num_outputs: int) -> list[str]:
    id2label = source_config.get("id2label") or {}
    if len(id2label) != num_outputs:
        return [f"LABEL_{i}" for i in range(num_outputs)]
    return [id2label[key] for key in sorted(id2label, key=int)]


def _task_kwargs(task: str, labels: list[str]) -> dict[str, Any]:
    if task == "regression":
        return {"task": "regression", "regression_targets": labels}
    if task == "classification":
        return {"task": "classification", "id2label": dict(enumerate(labels))}
    raise ValueError(f"Unknown task {task!r} for conversion; choose one of classification, regression.")


def convert_checkpoint(
    path_or_repo_id: Union[str, os.PathLike],
    task: Optional[str] = None,
    exact: bool = True,
    revision: Optional[str] = None,
    **hub_kwargs: Any,
) -> SERModelForAudioClassification:
    """Load an existing SER checkpoint as an :class:`SERModelForAudioClassification` with the same outputs.

    Args:
        path_or_repo_id: local directory or Hub repo id of the checkpoint.
        task: ``"classification"`` or ``"regression"``; inferred when ``None`` (``problem_type="regression"``
            or labels among arousal/dominance/valence -> regression).
        exact: audEERING layout only: keep the original unmasked mean (outputs identical to the original,
            padded batches included). ``False`` pools only real frames (batched = single).
        revision, **hub_kwargs: passed to ``huggingface_hub.snapshot_download`` for repo ids.

    Returns:
        The converted model in eval mode; ``save_pretrained`` it to get an hf_ser checkpoint.

    Example: ``model = hf_ser.convert_checkpoint("audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim")``,
    then ``model(**inputs).logits`` holds arousal, dominance, valence.
    """
    directory = _resolve_directory(path_or_repo_id, revision, **hub_kwargs)
    source_config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    state = _load_state_dict(directory)
    layout = detect_layout(source_config, state)
    model_type = source_config.get("model_type")
    if model_type not in BACKBONE_TYPES:
        raise ValueError(
            f"Unsupported backbone model_type {model_type!r}; choose one of {', '.join(BACKBONE_TYPES)}."
        )
    backbone_config = {k: v for k, v in source_config.items() if k not in _HEAD_CONFIG_KEYS}

    if layout == "speech_classification":
        if source_config.get("pooling_mode", "mean") != "mean":
            raise ValueError(
                f"Only pooling_mode='mean' can be converted, got {source_config['pooling_mode']!r}."
            )
        labels = _labels(source_config, state["classifier.out_proj.weight"].shape[0])
        task = task or _infer_task(source_config, labels)
        config = SERConfig(
            backbone_config=backbone_config,
            pooling="mean",
            mask_pooling=not exact,
            projector_size=state["classifier.dense.weight"].shape[0],
            head_activation="tanh",
            classifier_dropout=float(source_config.get("final_dropout", 0.1)),
            **_task_kwargs(task, labels),
        )
        head = "regressor" if config.task == "regression" else "classifier"
        head_state = {
            f"{head}.dense.weight": state["classifier.dense.weight"],
            f"{head}.dense.bias": state["classifier.dense.bias"],
            f"{head}.out_proj.weight": state["classifier.out_proj.weight"],
            f"{head}.out_proj.bias": state["classifier.out_proj.bias"],
        }
    else:
        labels = _labels(source_config, state["classifier.weight"].shape[0])
        task = task or _infer_task(source_config, labels)
        weighted = bool(source_config.get("use_weighted_layer_sum", False))
        config = SERConfig(
            backbone_config=backbone_config,
            pooling="mean",
            layer_weighting="weighted" if weighted else "last",
            projector_size=state["projector.weight"].shape[0],
            head_activation="identity",
            classifier_dropout=0.0,
            **_task_kwargs(task, labels),
        )
        head = "regressor" if config.task == "regression" else "classifier"
        head_state = {
            f"{head}.dense.weight": state["projector.weight"],
            f"{head}.dense.bias": state["projector.bias"],
            f"{head}.out_proj.weight": state["classifier.weight"],
            f"{head}.out_proj.bias": state["classifier.bias"],
        }
        if weighted:
            head_state["layer_mix.layer_weights"] = state["layer_weights"]

    model = SERModelForAudioClassification(config)
    model.backbone = load_pretrained_backbone(directory, config=config.backbone_config, use_safetensors=True)
    model.config.backbone_config = model.backbone.config
    missing, unexpected = model.load_state_dict(head_state, strict=False)
    not_loaded = [key for key in missing if not key.startswith("backbone.")]
    if unexpected or not_loaded:
        raise ValueError(f"Conversion mismatch: missing {not_loaded}, unexpected {unexpected}.")
    model.apply_freezing()
    return model.eval()

"""LoRA fine-tuning of hf_ser models with peft.

:func:`add_lora` wraps the backbone's attention projections (optionally also its feed-forward layers) with
low-rank adapters, while everything SER-specific on top (learned layer mix, seq2seq encoder, pooling,
heads and the optional CTC character head) stays fully trainable and is saved with the adapter through
peft's ``modules_to_save``. The adapter directory is therefore small and self-sufficient: base checkpoint
+ adapter = trained model.

Example:

```python
>>> from hf_ser import SERModelForAudioClassification, add_lora, load_lora
>>> model = SERModelForAudioClassification.from_pretrained("base")  # doctest: +SKIP
>>> peft_model = add_lora(model, r=8, alpha=16)  # doctest: +SKIP
>>> print(peft_model.hf_ser_parameter_report)  # doctest: +SKIP
trainable 0.60 M / total 94.97 M (0.63%)
>>> peft_model.save_pretrained("adapter")  # doctest: +SKIP
>>> reloaded = load_lora(SERModelForAudioClassification.from_pretrained("base"), "adapter")  # doctest: +SKIP
>>> merged = peft_model.merge_and_unload()  # doctest: +SKIP

```
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from torch import nn

from ..progress import quietly

logger = logging.getLogger(__name__)

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
FEED_FORWARD_PROJECTIONS = ("intermediate_dense", "output_dense")
# Top-level modules trained in full and saved with the adapter (when present and holding parameters).
FULLY_TRAINED_MODULES = ("layer_mix", "seq2seq", "pooling", "classifier", "regressor", "ctc_head")


@dataclass(frozen=True)
class ParameterCount:
    """Trainable and total parameter counts of a model."""

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (
            f"trainable {self.trainable / 1e6:.2f} M / total {self.total / 1e6:.2f} M "
            f"({100 * self.fraction:.2f}%)"
        )


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count trainable and total parameters (shared parameters counted once)."""
    trainable = total = 0
    for parameter in model.parameters():
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return ParameterCount(trainable=trainable, total=total)


def default_target_modules(include_feed_forward: bool = False) -> str:
    """Regex (peft full-match) selecting the backbone's transformer projections.

    Anchored on ``backbone.encoder.layers.N`` so the heads' own ``out_proj`` layers are never wrapped.
    """
    blocks = r"attention\.(?:" + "|".join(ATTENTION_PROJECTIONS) + ")"
    if include_feed_forward:
        blocks = r"(?:" + blocks + r"|feed_forward\.(?:" + "|".join(FEED_FORWARD_PROJECTIONS) + "))"
    return r"(?:.*\.)?backbone\.encoder\.layers\.\d+\." + blocks


def modules_to_save(model: nn.Module) -> list[str]:
    """Names of the SER modules (layer mix, seq2seq, pooling, heads) that hold parameters."""
    return [
        name
        for name in FULLY_TRAINED_MODULES
        if isinstance(getattr(model, name, None), nn.Module)
        and any(True for _ in getattr(model, name).parameters())
    ]


def add_lora(
    model: nn.Module,
    r: int = 8,
    alpha: int = 16,
    target_modules: Optional[Union[str, Sequence[str]]] = None,
    dropout: float = 0.0,
    include_feed_forward: bool = False,
):
    """Wrap ``model`` (an hf_ser model) in a peft ``PeftModel`` with LoRA on the backbone.

    Args:
        model: an :class:`~hf_ser.SERModelForAudioClassification`.
        r: LoRA rank.
        alpha: LoRA scaling numerator (``lora_alpha``; the update is scaled by ``alpha / r``).
        target_modules: peft ``target_modules`` (list of names or a full-match regex); defaults to the
            backbone's attention projections (plus feed-forward with ``include_feed_forward``).
        dropout: LoRA dropout.
        include_feed_forward: also adapt ``feed_forward.intermediate_dense`` / ``output_dense``.

    Returns:
        The ``PeftModel``. Its ``hf_ser_parameter_report`` attribute holds the trainable / total
        :class:`ParameterCount` (also logged).
    """
    from peft import LoraConfig, get_peft_model

    if r < 1:
        raise ValueError(f"LoRA rank r must be >= 1, got {r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout}.")
    if not hasattr(model, "backbone"):
        raise ValueError(f"add_lora expects an hf_ser model with a `backbone`, got {type(model).__name__}.")
    lora_config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules
        if target_modules is not None
        else default_target_modules(include_feed_forward),
        modules_to_save=modules_to_save(model),
        bias="none",
    )
    peft_model = get_peft_model(model, lora_config)
    record_base_model(peft_model, model)
    report = count_parameters(peft_model)
    peft_model.hf_ser_parameter_report = report
    logger.info("LoRA r=%d alpha=%d: %s", r, alpha, report)
    return peft_model


def record_base_model(peft_model: nn.Module, base: nn.Module) -> None:
    """Store the base model's ``name_or_path`` as the adapter's ``base_model_name_or_path``.

    peft reads ``model.__dict__["name_or_path"]``, which transformers 5 no longer has (it is a property),
    so adapters were saved with ``base_model_name_or_path: null`` and could not be Auto-loaded. A base
    built in memory (no ``from_pretrained``) has no path: save it first to make the adapter loadable alone.
    """
    name = getattr(base, "name_or_path", None) or None
    if name is None:
        logger.warning("The base model has no name_or_path: the adapter will not know its base model.")
    for config in peft_model.peft_config.values():
        config.base_model_name_or_path = name


@quietly
def load_lora(model: nn.Module, adapter_path: Union[str, os.PathLike], is_trainable: bool = False):
    """Load a saved LoRA adapter (with its fully trained SER modules) onto a base hf_ser model."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_path), is_trainable=is_trainable)

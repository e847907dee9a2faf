"""Output heads: map the pooled utterance vector to class logits or regression values, and the frames to
CTC character logits.

One utterance head shape covers the layouts users already have: ``dropout -> dense -> activation -> dropout
-> out_proj``, which is the audEERING A/D/V head (``classifier.dense`` / ``classifier.out_proj`` with tanh)
and, with ``activation="identity"`` and no dropout, transformers' ``projector`` + ``classifier``.
:class:`CTCHead` is the frame-level ``dropout -> linear`` head of transformers' ``Wav2Vec2ForCTC``.
:class:`SERHeadsMixin` gives every model of the family the same pooled -> heads -> loss -> output tail.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import nn

from .losses import route_labels, ser_loss
from .outputs import SERModelOutput
from .pooling import PoolingOutput

HEAD_ACTIVATIONS = ("tanh", "relu", "gelu", "identity")


def build_activation(name: str) -> nn.Module:
    """Return the activation module called ``name`` (one of :data:`HEAD_ACTIVATIONS`)."""
    activations = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "identity": nn.Identity}
    if name not in activations:
        raise ValueError(f"Unknown head_activation {name!r}; choose one of {', '.join(HEAD_ACTIVATIONS)}.")
    return activations[name]()


class SERHead(nn.Module):
    """``dropout -> dense -> activation -> dropout -> out_proj``; without ``projector_size`` just
    ``dropout -> out_proj``.

    Args:
        input_size: size of the pooled vector.
        output_size: number of classes or regression targets.
        projector_size: width of ``dense``; ``None`` for a single linear layer.
        activation: one of :data:`HEAD_ACTIVATIONS`.
        dropout: dropout probability.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        projector_size: Optional[int] = 256,
        activation: str = "tanh",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        if projector_size is None:
            self.dense = None
            self.activation = None
            out_features = input_size
        else:
            self.dense = nn.Linear(input_size, projector_size)
            self.activation = build_activation(activation)
            out_features = projector_size
        self.out_proj = nn.Linear(out_features, output_size)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(pooled)
        if self.dense is not None:
            hidden = self.dropout(self.activation(self.dense(hidden)))
        return self.out_proj(hidden)


class CTCHead(nn.Module):
    """``dropout -> proj``: backbone frames ``(batch, frames, hidden)`` to character logits
    ``(batch, frames, vocab)`` for the auxiliary CTC loss (Cai et al., 2021) and greedy transcription.

    Args:
        hidden_size: size of the backbone frames.
        vocab_size: number of CTC tokens, blank included.
        dropout: dropout probability on the frames.
    """

    def __init__(self, hidden_size: int, vocab_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(hidden_states))


class SERHeadsMixin:
    """Utterance heads, label routing, loss and :class:`~.outputs.SERModelOutput` of every hf_ser model.

    The model's ``config`` carries the head options of :class:`~.configuration_base.SERHeadConfig`. Call
    :meth:`_build_heads` in ``__init__``: it sets ``self.classifier`` (unless ``task="regression"``) and
    ``self.regressor`` (unless ``task="classification"``); those attribute names are the checkpoints'
    parameter names (``classifier.*``, ``regressor.*``), which conversion and LoRA ``modules_to_save`` use.
    """

    config: Any

    def _build_heads(
        self,
        input_size: int,
        dropout: float,
        projector_size: Optional[int] = None,
        activation: str = "tanh",
    ) -> None:
        """Create the classification and/or regression :class:`SERHead` on pooled vectors."""
        config = self.config
        head_kwargs = {
            "input_size": input_size,
            "projector_size": projector_size,
            "activation": activation,
            "dropout": dropout,
        }
        self.classifier = (
            SERHead(output_size=config.num_labels, **head_kwargs) if config.task != "regression" else None
        )
        self.regressor = (
            SERHead(output_size=len(config.regression_targets), **head_kwargs)
            if config.task != "classification"
            else None
        )

    def _route_labels(
        self, labels: Optional[torch.Tensor], regression_labels: Optional[torch.Tensor]
    ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Route and validate label tensors for the configured task (see ``losses.route_labels``)."""
        return route_labels(self.config.task, len(self.config.regression_targets), labels, regression_labels)

    def _apply_heads(
        self,
        pooled: torch.Tensor,
        labels: Optional[torch.Tensor],
        regression_labels: Optional[torch.Tensor],
    ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor], torch.Tensor, Optional[torch.Tensor]]:
        """Pooled vector and *routed* labels -> ``(class_logits, regression, logits, loss)``.

        ``logits`` are the class logits, or the regression values for ``task="regression"``; ``loss`` is
        ``None`` without labels.

        The heads run outside autocast, in their weights' precision: under bf16 autocast the few head
        matmuls stay fp32, so logits and A/D/V values are not rounded to bf16 (one bf16 step is 2e-3 at
        0.5), which keeps a clip's bf16 output independent of its batch to well below that.
        """
        head = self.classifier if self.classifier is not None else self.regressor
        with torch.autocast(device_type=pooled.device.type, enabled=False):
            pooled = pooled.to(next(head.parameters()).dtype)
            class_logits = self.classifier(pooled) if self.classifier is not None else None
            regression = self.regressor(pooled) if self.regressor is not None else None
        logits = class_logits if class_logits is not None else regression
        loss = ser_loss(self.config, class_logits, regression, labels, regression_labels)
        return class_logits, regression, logits, loss

    def _heads_output(
        self,
        pooling_output: PoolingOutput,
        labels: Optional[torch.Tensor],
        regression_labels: Optional[torch.Tensor],
        return_dict: Optional[bool],
    ) -> Union[SERModelOutput, tuple]:
        """The whole tail of a model without extra outputs: route labels, apply heads, build the output."""
        labels, regression_labels = self._route_labels(labels, regression_labels)
        _, regression, logits, loss = self._apply_heads(pooling_output.pooled, labels, regression_labels)
        output = SERModelOutput(
            loss=loss,
            logits=logits,
            regression=regression,
            pooled=pooling_output.pooled,
            frame_weights=pooling_output.weights,
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()

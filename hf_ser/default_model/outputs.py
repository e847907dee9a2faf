"""Output dataclass shared by every model of the hf_ser family (SSL models, LSTM-SA, Wav2Small student).

One output type means the pipeline, the Trainer recipes, ONNX export and evaluation read every model
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from transformers.utils import ModelOutput


@dataclass
class SERModelOutput(ModelOutput):
    """Output of a speech emotion recognition model.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            Training loss, returned when `labels`, `regression_labels` and/or `ctc_labels` are given (for
            `task="multitask"` the weighted sum of both task losses; plus `ctc_alpha` times the CTC loss).
        logits (`torch.FloatTensor` of shape `(batch, num_labels)`):
            Class logits. For `task="regression"` this holds the regression values (`(batch, targets)`),
            as the community arousal/dominance/valence checkpoints do.
        regression (`torch.FloatTensor` of shape `(batch, targets)`, *optional*):
            Regression values in `config.regression_targets` order, for `task="regression"` and
            `task="multitask"`; `None` for classification.
        pooled (`torch.FloatTensor` of shape `(batch, pooled_size)`):
            Utterance embedding produced by the pooling layer (before the heads).
        frame_weights (`torch.FloatTensor` of shape `(batch, frames)` / `(batch, frames, heads)`, *optional*):
            Pooling attention over frames (sums to 1 over real frames, 0 on padding), for poolings that
            learn one; `None` for mean pooling.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            Backbone hidden states (embeddings + one per layer), each `(batch, frames, hidden)`, when
            `output_hidden_states=True`.
        attentions (`tuple(torch.FloatTensor)`, *optional*):
            Backbone self-attention weights, each `(batch, heads, frames, frames)`, when
            `output_attentions=True`.
        ctc_logits (`torch.FloatTensor` of shape `(batch, frames, ctc_vocab_size)`, *optional*):
            Character logits of the auxiliary CTC head for every backbone frame (padded frames included;
            the frame mask / attention mask tells which are real), for models with `config.ctc_vocab_size`;
            `None` otherwise. Greedy decoding: `hf_ser.training.transcribe`.
    """

    loss: Optional[torch.FloatTensor] = None
    logits: Optional[torch.FloatTensor] = None
    regression: Optional[torch.FloatTensor] = None
    pooled: Optional[torch.FloatTensor] = None
    frame_weights: Optional[torch.FloatTensor] = None
    hidden_states: Optional[tuple[torch.FloatTensor, ...]] = None
    attentions: Optional[tuple[torch.FloatTensor, ...]] = None
    ctc_logits: Optional[torch.FloatTensor] = None

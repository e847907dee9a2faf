"""LSTM-SA and ResLSTM-SA (Krasnoproshin & Vashkevich, DSPA 2026) as transformers models.

Data flow: ``MfccChromaFeatureExtractor`` frames ``(batch, frames, 46)`` -> [ResLSTM-SA only: residual
LSTM1 with output size 46, ``X' = X + LSTM1(X)``] -> LSTM2 with hidden size Y -> soft attention pooling
(``e_t = u^T h_t``, ``alpha = softmax(e)`` over real frames) -> dropout -> fully connected layer(s).

Padding never leaks: both LSTMs are unidirectional, so a real frame's state depends only on the frames
before it, and the attention softmax gives padded frames exactly zero weight. A clip padded inside a
batch therefore gets the same output as the clip alone, without packed sequences (which keeps the model
exportable to ONNX with dynamic batch and time axes).

The family's :class:`~.heads.SERHeadsMixin` maps the pooled vector to ``SERModelOutput`` with the shared
heads and losses.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_lstm_sa import LSTMSAConfig
from .docstrings import add_forward_docstring
from .heads import SERHeadsMixin
from .outputs import SERModelOutput
from .pooling import SoftAttentionPooling
from .weight_init import init_linear_, init_lstm_


class LSTMSAPreTrainedModel(PreTrainedModel):
    """Base class: config class and weight initialisation of LSTM-SA models."""

    config_class = LSTMSAConfig
    config: LSTMSAConfig
    base_model_prefix = "lstm_sa"
    main_input_name = "input_values"
    input_modalities = "audio"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.LSTM):
            init_lstm_(module)
        elif isinstance(module, nn.Linear):
            init_linear_(module, self.config.initializer_range)
        else:
            super()._init_weights(module)


class LSTMSAForAudioClassification(SERHeadsMixin, LSTMSAPreTrainedModel):
    """LSTM-SA-hY (`residual=False`) or ResLSTM-SA-hY (`residual=True`) on MFCC + chroma frames.

    Parameter counts for 8 classes (paper in brackets): LSTM-SA h32/h64/h128 = 10,536 / 29,256 / 91,272
    (10.6k / 28.3k / 91.6k); ResLSTM-SA h32/h64/h128 = 27,832 / 46,552 / 108,568 (28.0k / 46.8k / 108.9k).

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor
    >>> extractor = MfccChromaFeatureExtractor()
    >>> model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=32, num_labels=4)).eval()
    >>> clips = [np.random.randn(16000).astype(np.float32), np.random.randn(24000).astype(np.float32)]
    >>> inputs = extractor(clips, sampling_rate=16000, padding=True, return_attention_mask=True,
    ...                    return_tensors="pt")
    >>> model(**inputs).logits.shape
    torch.Size([2, 4])

    ```
    """

    def __init__(self, config: LSTMSAConfig) -> None:
        super().__init__(config)
        self.residual_lstm = (
            nn.LSTM(config.input_size, config.input_size, batch_first=True) if config.residual else None
        )
        self.lstm = nn.LSTM(config.input_size, config.hidden_size, batch_first=True)
        self.pooling = SoftAttentionPooling(config.hidden_size, attention_size=None)
        self._build_heads(config.hidden_size, config.classifier_dropout)
        self.post_init()

    @add_forward_docstring
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        regression_labels: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
        **kwargs: Any,
    ) -> Union[SERModelOutput, tuple]:
        r"""Classify / score a batch of feature sequences.

        Args:
            input_values (`torch.FloatTensor` of shape `(batch, frames, input_size)`):
                MFCC + chroma frames from `MfccChromaFeatureExtractor`, right-padded.
            attention_mask (`torch.LongTensor` of shape `(batch, frames)`, *optional*):
                1 for real frames, 0 for padding (returned by the feature extractor).
            {labels_args}
            {return_dict_arg}

        Returns:
            `SERModelOutput` with `loss`, `logits` (divided by `config.temperature`),
            `regression`, `pooled` (the attention context vector)
            and `frame_weights` (attention over frames).
        """
        if input_values.dim() != 3 or input_values.shape[-1] != self.config.input_size:
            raise ValueError(
                f"input_values must have shape (batch, frames, {self.config.input_size}), "
                f"got {tuple(input_values.shape)}."
            )
        hidden = input_values
        if self.residual_lstm is not None:
            hidden = hidden + self.residual_lstm(hidden)[0]
        hidden = self.lstm(hidden)[0]
        mask = attention_mask.bool() if attention_mask is not None else None
        output = self._heads_output(self.pooling(hidden, mask), labels, regression_labels, return_dict=True)
        output = self._scale_by_temperature(output)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()

    def _scale_by_temperature(self, output: SERModelOutput) -> SERModelOutput:
        """Class logits divided by ``config.temperature`` (calibration); the loss keeps the raw logits.

        Done inside ``forward`` so that every consumer (pipeline, ONNX export, runtime) gets the same
        calibrated probabilities from ``softmax(logits)``. Regression outputs are never scaled.
        """
        temperature = float(getattr(self.config, "temperature", 1.0))
        if temperature != 1.0 and self.config.task != "regression":
            output.logits = output.logits / temperature
        return output

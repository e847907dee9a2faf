"""Configuration of :class:`~.modeling_lstm_sa.LSTMSAForAudioClassification` (LSTM-SA / ResLSTM-SA).

The architecture follows Krasnoproshin & Vashkevich, "Speech Emotion Recognition using Attention-based
LSTM-Network with Residual Connection" (DSPA 2026): frame features (34 MFCC + 12 chroma) -> optional
residual LSTM of the input size (``X' = X + LSTM1(X)``) -> LSTM with hidden size Y -> soft attention
(``e_t = u^T h_t``) -> dropout -> fully connected layer. ``residual=False`` is LSTM-SA-hY,
``residual=True`` is ResLSTM-SA-hY.

Task, label and loss options come from :class:`~.configuration_base.SERHeadConfig`, the base of every config
of the family, so every model is read and trained the same way.
"""

from __future__ import annotations

from typing import Any, Union

from .configuration_base import SERHeadConfig


class LSTMSAConfig(SERHeadConfig):
    r"""Configuration for :class:`LSTMSAForAudioClassification`.

    Args:
        input_size (`int`, *optional*, defaults to 46):
            Size of the frame features (34 MFCC + 12 chroma from `MfccChromaFeatureExtractor`).
        hidden_size (`int`, *optional*, defaults to 64):
            Hidden size Y of the attention LSTM (the `hY` of LSTM-SA-hY).
        residual (`bool`, *optional*, defaults to `True`):
            Add the residual LSTM of output size `input_size` before the attention LSTM (ResLSTM-SA).
        classifier_dropout (`float`, *optional*, defaults to 0.3):
            Dropout on the attention context vector before the fully connected layer (the paper searches
            [0.1, 0.5]).
        task, regression_targets, classification_loss, class_weights, focal_gamma, regression_loss,
        regression_loss_weights, multitask_weight:
            As in :class:`~.configuration_base.SERHeadConfig` (default task `"classification"`; `"ce"` is the
            paper's loss).
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of the attention vector and the output layers.

    Example:

    ```python
    >>> from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification
    >>> config = LSTMSAConfig(hidden_size=64, residual=True, num_labels=8)
    >>> model = LSTMSAForAudioClassification(config)
    >>> sum(p.numel() for p in model.parameters())  # ResLSTM-SA-h64: 46.8k in the paper
    46552

    ```
    """

    model_type = "hf_ser_lstm_sa"

    input_size: int = 46
    hidden_size: int = 64
    residual: bool = True
    classifier_dropout: Union[float, int] = 0.3
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        labels_given = self._labels_given(kwargs)
        super().__post_init__(**kwargs)
        for name in ("input_size", "hidden_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        self._validate_head_options(labels_given)

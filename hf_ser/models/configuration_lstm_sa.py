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

from typing import Any, Optional, Union

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
        temperature (`float`, *optional*, defaults to 1.0):
            Calibration temperature: `forward` returns the class logits divided by it (the loss uses the raw
            logits), so the pipeline, the ONNX export and `hf_ser.runtime` all give `softmax(logits / T)`.
            Fitted after training on held-out speakers (temperature scaling, Guo et al. 2017).
        arousal_from_categories (`dict[str, float]`, *optional*):
            Class label -> weight in [-1, 1]. When set, `hf_ser.pipeline` and `hf_ser.runtime` add
            `"arousal" = (1 + sum_label weight * P(label)) / 2` (in [0, 1]) to every categorical result: an
            arousal estimate derived from the class probabilities, not a trained regression output.

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
    temperature: Union[float, int] = 1.0
    arousal_from_categories: Optional[dict[str, Union[float, int]]] = None

    def __post_init__(self, **kwargs: Any) -> None:
        labels_given = self._labels_given(kwargs)
        super().__post_init__(**kwargs)
        for name in ("input_size", "hidden_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        self._validate_head_options(labels_given)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}.")
        self._check_arousal_weights()

    def _check_arousal_weights(self) -> None:
        """``arousal_from_categories`` must map known labels to weights in [-1, 1]."""
        weights = self.arousal_from_categories
        if weights is None:
            return
        unknown = sorted(set(weights) - set(self.id2label.values()))
        if unknown:
            raise ValueError(f"arousal_from_categories names unknown labels {unknown}; labels: "
                             f"{sorted(self.id2label.values())}.")  # fmt: skip
        bad = {label: w for label, w in weights.items() if not -1.0 <= float(w) <= 1.0}
        if bad:
            raise ValueError(f"arousal_from_categories weights must lie in [-1, 1], got {bad}.")

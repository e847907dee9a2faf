"""Configuration of :class:`~.modeling_lstm_sa.LSTMSAForAudioClassification` (LSTM-SA / ResLSTM-SA).

The architecture follows Krasnoproshin & Vashkevich, "Speech Emotion Recognition using Attention-based
LSTM-Network with Residual Connection" (DSPA 2026): frame features (34 MFCC + 12 chroma) -> optional
residual LSTM of the input size (``X' = X + LSTM1(X)``) -> LSTM with hidden size Y -> soft attention
(``e_t = u^T h_t``) -> dropout -> fully connected layer. ``residual=False`` is LSTM-SA-hY,
``residual=True`` is ResLSTM-SA-hY.

Task, label and loss options are those of :class:`~.configuration_ser.SERConfig` and are validated by
the same code, so every model of the family is read and trained the same way.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from transformers import PreTrainedConfig

from .configuration_ser import DEFAULT_REGRESSION_TARGETS, TASKS, SERConfig, _check_choice


class LSTMSAConfig(PreTrainedConfig):
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
        task (`str`, *optional*, defaults to `"classification"`):
            `"classification"`, `"regression"` or `"multitask"`, as in `SERConfig`.
        regression_targets (`list[str]`, *optional*, defaults to `["arousal", "dominance", "valence"]`):
            Names of the regression outputs.
        classification_loss (`str`, *optional*, defaults to `"ce"`):
            `"ce"` (the paper), `"weighted_ce"` or `"focal"`.
        class_weights (`list[float]`, *optional*):
            Per-class weights for `"weighted_ce"` / `"focal"`.
        focal_gamma (`float`, *optional*, defaults to 2.0):
            Focusing parameter of the focal loss.
        regression_loss (`str`, *optional*, defaults to `"ccc"`):
            `"ccc"`, `"mse"` or `"ccc+mse"`.
        regression_loss_weights (`list[float]`, *optional*):
            One weight per regression target.
        multitask_weight (`float`, *optional*, defaults to 0.5):
            `loss = (1 - w) * classification_loss + w * regression_loss` for `task="multitask"`.
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
    task: str = "classification"
    regression_targets: Union[list[str], tuple[str, ...]] = DEFAULT_REGRESSION_TARGETS
    classification_loss: str = "ce"
    class_weights: Optional[list[Union[float, int]]] = None
    focal_gamma: Union[float, int] = 2.0
    regression_loss: str = "ccc"
    regression_loss_weights: Optional[list[Union[float, int]]] = None
    multitask_weight: Union[float, int] = 0.5
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        labels_given = self.id2label is not None or kwargs.get("num_labels") is not None
        super().__post_init__(**kwargs)
        self.regression_targets = list(self.regression_targets)
        for name in ("input_size", "hidden_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")
        validate_task_and_losses(self, labels_given)

    @property
    def num_regression_targets(self) -> int:
        """Number of regression outputs (0 for `task="classification"`)."""
        return 0 if self.task == "classification" else len(self.regression_targets)


def validate_task_and_losses(config: PreTrainedConfig, labels_given: bool) -> None:
    """Check `task`, labels and loss options of a small-model config with `SERConfig`'s own rules."""
    _check_choice("task", config.task, TASKS)
    SERConfig._validate_task(config, labels_given)
    SERConfig._validate_losses(config)

"""The SER head options shared by every config of the family: task, labels, regression targets and losses.

:class:`SERHeadConfig` declares and validates them once; :class:`~.configuration_ser.SERConfig`,
:class:`~.configuration_lstm_sa.LSTMSAConfig` and :class:`~.configuration_student.Wav2SmallConfig`
inherit from it, so every model is read and trained the same way (the pipeline, recipes, export and
evaluation only look at these options).
"""

from __future__ import annotations

from typing import Any, Optional, Union

from transformers import PreTrainedConfig

from .losses import CLASSIFICATION_LOSSES, REGRESSION_LOSSES

TASKS = ("classification", "regression", "multitask")
DEFAULT_REGRESSION_TARGETS = ("arousal", "dominance", "valence")


def check_speeds(values: Any, name: str) -> list[float]:
    """``values`` (a non-empty sequence of positive, finite numbers) as floats, or a ``ValueError`` naming
    ``name``. The one check of speed lists: configs' `test_time_speeds`, the recipes' speed keys, the
    pipeline and the CLI."""
    speeds = list(values) if isinstance(values, (list, tuple)) else [values]
    valid = bool(speeds) and all(
        isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < float("inf") for f in speeds
    )
    if not valid:
        raise ValueError(
            f"`{name}` must be a non-empty list of positive speeds (e.g. [0.9, 1.1]), got {values!r}."
        )
    return [float(f) for f in speeds]


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    """Raise a ``ValueError`` naming ``value`` and the ``allowed`` ones unless ``value in allowed``."""
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; choose one of {', '.join(map(str, allowed))}.")


class SERHeadConfig(PreTrainedConfig):
    r"""Base of the hf_ser configs: the options of the utterance heads and their losses.

    Subclasses compute ``labels_given = self._labels_given(kwargs)`` *before* calling
    ``super().__post_init__(**kwargs)`` (which fills in a default 2-label map) and call
    :meth:`_validate_head_options` with it afterwards.

    Args:
        task (`str`, *optional*, defaults to `"classification"`):
            `"classification"` (categorical emotions, needs `id2label` or `num_labels`), `"regression"`
            (dimensional values such as arousal/dominance/valence; `logits` holds them) or `"multitask"`
            (both heads, one loss weighted by `multitask_weight`).
        regression_targets (`list[str]`, *optional*, defaults to `["arousal", "dominance", "valence"]`):
            Names of the regression outputs, in order. For `task="regression"` they also become `id2label`.
        classification_loss (`str`, *optional*, defaults to `"ce"`):
            `"ce"`, `"weighted_ce"` (needs `class_weights`) or `"focal"` (focal CE with `focal_gamma`).
        class_weights (`list[float]`, *optional*):
            One weight per class for `"weighted_ce"` (also used by `"focal"` as alpha when given).
        focal_gamma (`float`, *optional*, defaults to 2.0):
            Focusing parameter of the focal loss.
        regression_loss (`str`, *optional*, defaults to `"ccc"`):
            `"ccc"` (1 - concordance correlation coefficient, averaged over targets), `"mse"` or `"ccc+mse"`.
        regression_loss_weights (`list[float]`, *optional*):
            One weight per regression target (normalised to sum to 1); uniform when `None`.
        multitask_weight (`float`, *optional*, defaults to 0.5):
            For `task="multitask"`: `loss = (1 - w) * classification_loss + w * regression_loss`.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the pooled vector before the heads (subclasses may change the default).
        test_time_speeds (`list[float]`, *optional*):
            Test-time augmentation used by `hf_ser.pipeline` (not by `forward`): every clip is also played
            at these speeds (tempo and pitch, as speed perturbation) and the class probabilities /
            regression values are averaged with the clip's own. Set by the recipes' `test_time_speeds`
            key, so a published model is used the way its reported figures were measured.
    """

    task: str = "classification"
    regression_targets: Union[list[str], tuple[str, ...]] = DEFAULT_REGRESSION_TARGETS
    classification_loss: str = "ce"
    class_weights: Optional[list[Union[float, int]]] = None
    focal_gamma: Union[float, int] = 2.0
    regression_loss: str = "ccc"
    regression_loss_weights: Optional[list[Union[float, int]]] = None
    multitask_weight: Union[float, int] = 0.5
    classifier_dropout: Union[float, int] = 0.1
    test_time_speeds: Optional[list[Union[float, int]]] = None

    def _labels_given(self, kwargs: dict[str, Any]) -> bool:
        """Whether the user passed class labels (``id2label`` or ``num_labels``); call before
        ``super().__post_init__``, which invents a default 2-label map."""
        return self.id2label is not None or kwargs.get("num_labels") is not None

    def _validate_head_options(self, labels_given: bool) -> None:
        """Check the task, labels, dropout and loss options; derive ``id2label`` / ``label2id`` /
        ``problem_type``."""
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")
        self.regression_targets = list(self.regression_targets)
        if self.test_time_speeds is not None:
            self.test_time_speeds = check_speeds(self.test_time_speeds, "test_time_speeds")
        check_choice("task", self.task, TASKS)
        self._validate_task(labels_given)
        self._validate_losses()

    def _validate_task(self, labels_given: bool) -> None:
        if self.task in ("regression", "multitask"):
            if not self.regression_targets:
                raise ValueError(f"task={self.task!r} needs at least one name in regression_targets, got [].")
            if len(set(self.regression_targets)) != len(self.regression_targets):
                raise ValueError(f"regression_targets must be unique, got {self.regression_targets}.")
        if self.task == "regression":
            # Community A/D/V checkpoints name their outputs in id2label; logits hold the values.
            self.id2label = dict(enumerate(self.regression_targets))
            self.label2id = {name: i for i, name in self.id2label.items()}
            self.problem_type = "regression"
            return
        if not labels_given:
            raise ValueError(
                f"task={self.task!r} needs class labels: pass id2label={{0: 'anger', 1: 'neutral', ...}} "
                "(or num_labels=N)."
            )
        if self.num_labels < 2:
            raise ValueError(f"task={self.task!r} needs at least 2 classes, got {self.num_labels}.")
        if self.label2id is None or len(self.label2id) != self.num_labels:
            self.label2id = {name: i for i, name in self.id2label.items()}
        self.problem_type = "single_label_classification"

    def _validate_losses(self) -> None:
        check_choice("classification_loss", self.classification_loss, CLASSIFICATION_LOSSES)
        check_choice("regression_loss", self.regression_loss, REGRESSION_LOSSES)
        uses_classes = self.task in ("classification", "multitask")
        uses_regression = self.task in ("regression", "multitask")
        if uses_classes and self.classification_loss == "weighted_ce" and self.class_weights is None:
            raise ValueError("classification_loss='weighted_ce' needs class_weights (one weight per class).")
        if uses_classes and self.class_weights is not None and len(self.class_weights) != self.num_labels:
            raise ValueError(
                f"class_weights has {len(self.class_weights)} values but there are {self.num_labels} classes."
            )
        if self.focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {self.focal_gamma}.")
        if (
            uses_regression
            and self.regression_loss_weights is not None
            and len(self.regression_loss_weights) != len(self.regression_targets)
        ):
            raise ValueError(
                f"regression_loss_weights has {len(self.regression_loss_weights)} values but there are "
                f"{len(self.regression_targets)} regression targets."
            )
        if not 0.0 <= self.multitask_weight <= 1.0:
            raise ValueError(f"multitask_weight must be in [0, 1], got {self.multitask_weight}.")

    @property
    def num_regression_targets(self) -> int:
        """Number of regression outputs (0 for `task="classification"`)."""
        return 0 if self.task == "classification" else len(self.regression_targets)

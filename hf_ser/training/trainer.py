"""`SERTrainer`: transformers' `Trainer` with what speech emotion recognition fine-tuning needs.

Not a copy of the training loop: a subclass (like SpanMarker's and SetFit's) that

- forces the arguments an audio SER model needs (``remove_unused_columns=False`` so raw audio reaches the
  collator, ``label_names`` for the task, nothing reported to external services);
- builds separate parameter groups for the backbone (incl. LoRA adapters) and the rest (layer mix,
  pooling, heads), each with its own learning rate;
- keeps the backbone frozen for the first ``freeze_backbone_steps`` optimizer steps by gating its
  learning rate to 0 in the scheduler. Gating (rather than toggling ``requires_grad``) keeps every
  parameter known to DistributedDataParallel from the start, survives ``--resume`` through the saved
  scheduler state, and leaves no optimizer update on the backbone (AdamW steps of size lr * ... = 0);
- gathers only the task outputs (logits / regression) at evaluation time, not the pooled embeddings;
- knows the model, so what it is not given it derives from ``model.config`` (like SpanMarker's trainer):
  the data collator (:func:`default_data_collator`: the feature extractor passed as ``processing_class``
  pads the audio; ``labels`` / ``regression_labels`` for the task), the check that the datasets' class
  names are the model's (:func:`check_label_names`) and ``compute_metrics`` (UAR / WA / F1, CCC / MSE).

Example: a corpus with a ``label`` `ClassLabel` and an ``audio`` column, batch -> loss in one screen:

```python
>>> from hf_ser.training import SERTrainer  # doctest: +SKIP
>>> trainer = SERTrainer(model=model, args=args, processing_class=extractor,
...                      train_dataset=train, eval_dataset=validation)  # doctest: +SKIP
>>> trainer.train(); trainer.evaluate()["eval_uar"]  # doctest: +SKIP
>>> trainer = SERTrainer(model=model, args=args, data_collator=collator, processing_class=extractor,
...                      train_dataset=train, eval_dataset=validation, compute_metrics=compute_metrics,
...                      backbone_learning_rate=1e-5, freeze_backbone_steps=500)  # doctest: +SKIP
```
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

IGNORE_AT_EVAL = ["pooled", "frame_weights", "hidden_states", "attentions", "ctc_logits"]
"""Model outputs never gathered during evaluation (only logits / regression values are)."""


def label_names_for_task(task: str) -> list[str]:
    """Label tensors the collator produces for a task (what Trainer passes to ``compute_metrics``)."""
    return {
        "classification": ["labels"],
        "regression": ["regression_labels"],
        "multitask": ["labels", "regression_labels"],
    }[task]


def is_backbone_parameter(name: str) -> bool:
    """Parameters of the SSL backbone (including LoRA adapters inside it), by name."""
    parts = name.split(".")
    return "backbone" in parts


@dataclass
class SERTrainingArguments(TrainingArguments):
    """`TrainingArguments` plus the sampling option of :class:`SERTrainer`.

    Args:
        balanced_sampling (`bool`, *optional*, defaults to `False`):
            Draw training clips class-balanced (:func:`hf_ser.data.sampling.class_balanced_sampler`, with
            replacement, seeded by `data_seed` or `seed`) instead of a uniform shuffle.
    """

    balanced_sampling: bool = field(default=False, metadata={"help": "Class-balanced training sampler."})


class SERTrainer(Trainer):
    """Trainer for hf_ser models (see the module docstring for what it adds).

    Args:
        backbone_learning_rate (`float`, *optional*):
            Learning rate of backbone parameters; `None` = `args.learning_rate` (the head's).
        freeze_backbone_steps (`int`, *optional*, defaults to 0):
            Optimizer steps during which the backbone's learning rate is 0.
        task (`str`, *optional*):
            Model task; defaults to `model.config.task`. Sets `label_names`.
        **kwargs: everything `transformers.Trainer` accepts. Without ``data_collator`` (and with the
            feature extractor as ``processing_class``) the trainer builds :func:`default_data_collator`
            and checks the datasets' class names with :func:`check_label_names`; without
            ``compute_metrics`` it uses :func:`hf_ser.metrics.build_compute_metrics` for the task.
    """

    def __init__(
        self,
        model: nn.Module,
        args: TrainingArguments,
        *,
        backbone_learning_rate: Optional[float] = None,
        freeze_backbone_steps: int = 0,
        task: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        task = task or getattr(model.config, "task", "classification")
        args = force_arguments(args, task)
        kwargs = with_model_defaults(model, task, kwargs)
        self.backbone_learning_rate = backbone_learning_rate
        self.freeze_backbone_steps = int(freeze_backbone_steps)
        super().__init__(model=model, args=args, **kwargs)
        # hf_ser models take **kwargs but compute a per-batch mean loss: the Trainer must
        # average over gradient-accumulation steps itself instead of passing `num_items_in_batch`.
        self.model_accepts_loss_kwargs = False

    # -- optimisation ------------------------------------------------------------------------------
    def create_optimizer(self, model: Optional[nn.Module] = None) -> torch.optim.Optimizer:
        """AdamW-style optimizer with (backbone, rest) x (decay, no decay) parameter groups."""
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        head_lr = self.args.learning_rate
        backbone_lr = self.backbone_learning_rate if self.backbone_learning_rate is not None else head_lr
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, parameter in opt_model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((is_backbone_parameter(name), name in decay), []).append(parameter)
        param_groups = []
        for (backbone, decays), params in sorted(groups.items()):
            param_groups.append(
                {
                    "params": params,
                    "weight_decay": self.args.weight_decay if decays else 0.0,
                    "lr": backbone_lr if backbone else head_lr,
                    "is_backbone": backbone,
                }
            )
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        optimizer_kwargs = {k: v for k, v in optimizer_kwargs.items() if k not in ("params", "model")}
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(
        self, num_training_steps: int, optimizer: Optional[torch.optim.Optimizer] = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The configured schedule, with the backbone groups gated to lr 0 for ``freeze_backbone_steps``."""
        created = self.lr_scheduler is None
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if created and self.freeze_backbone_steps > 0:
            gate_backbone_learning_rate(scheduler, self.freeze_backbone_steps)
        return scheduler

    # -- sampling ------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """Class-balanced sampler when ``args.balanced_sampling``; transformers' sampler otherwise."""
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if not getattr(self.args, "balanced_sampling", False) or dataset is None:
            return super()._get_train_sampler(train_dataset)
        from ..data.sampling import class_balanced_sampler

        labels = dataset.with_format(None)["label"] if hasattr(dataset, "with_format") else dataset["label"]
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return class_balanced_sampler(list(labels), seed)

    # -- evaluation ----------------------------------------------------------------------------------
    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: Optional[list[str]] = None,
    ) -> tuple[Optional[torch.Tensor], Any, Any]:
        return super().prediction_step(
            model,
            inputs,
            prediction_loss_only,
            ignore_keys=IGNORE_AT_EVAL if ignore_keys is None else ignore_keys,
        )


def gate_backbone_learning_rate(scheduler: Any, steps: int) -> None:
    """Multiply the backbone groups' schedule by 0 for the first ``steps`` optimizer steps (in place)."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
        raise ValueError(
            f"freeze_backbone_steps needs a LambdaLR-based schedule (linear, cosine, constant, ...), got "
            f"{type(scheduler).__name__}."
        )

    def gated(schedule: Any) -> Any:
        def factor(step: int) -> float:
            return schedule(step) if step >= steps else 0.0

        return factor

    optimizer = scheduler.optimizer
    for index, group in enumerate(optimizer.param_groups):
        if group.get("is_backbone"):
            scheduler.lr_lambdas[index] = gated(scheduler.lr_lambdas[index])
            group["lr"] = scheduler.base_lrs[index] * scheduler.lr_lambdas[index](scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def default_data_collator(feature_extractor: Any, task: str, regression_targets: Sequence[str]) -> Any:
    """The collator for ``task``, padding only: ``labels`` from the ``label`` column unless the task is
    regression, ``regression_labels`` from the ``regression_targets`` columns unless it is classification.

    Cropping and augmentation belong in the training dataset's transform: `Trainer` uses one collator for
    training *and* evaluation batches.
    """
    from ..data.collator import SERDataCollator

    return SERDataCollator(
        feature_extractor,
        label_column="label" if task != "regression" else None,
        regression_columns=list(regression_targets) if task != "classification" else None,
    )


def _datasets(value: Any) -> list[Any]:
    """The datasets in a Trainer ``train_dataset`` / ``eval_dataset`` value (one, a dict of them, or None)."""
    if value is None:
        return []
    return list(value.values()) if isinstance(value, Mapping) else [value]


def check_label_names(model: nn.Module, datasets: Sequence[Any], label_column: str = "label") -> None:
    """Raise a `ValueError` when a dataset's ``label`` `ClassLabel` names differ from the model's classes.

    A model whose ``id2label`` orders the classes differently from the data would train on swapped
    labels without any error; datasets without a `ClassLabel` column are not checked.
    """
    id2label = getattr(model.config, "id2label", None) or {}
    model_names = [id2label[index] for index in sorted(id2label)]
    for dataset in datasets:
        feature = (getattr(dataset, "features", None) or {}).get(label_column)
        names = getattr(feature, "names", None)
        if names is not None and list(names) != model_names:
            raise ValueError(
                f"The dataset's {label_column!r} classes {list(names)} differ from the model's id2label "
                f"{model_names}. Build the model with id2label=dict(enumerate(names)) or map the "
                "dataset with `Dataset.align_labels_with_mapping`."
            )


def with_model_defaults(model: nn.Module, task: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` for `Trainer` with the collator and ``compute_metrics`` derived from ``model.config``
    where they are missing (see :class:`SERTrainer`)."""
    from ..metrics import build_compute_metrics

    kwargs = dict(kwargs)
    targets = getattr(model.config, "regression_targets", None) or ()
    if kwargs.get("data_collator") is None and kwargs.get("processing_class") is not None:
        kwargs["data_collator"] = default_data_collator(kwargs["processing_class"], task, targets)
        if task != "regression":
            datasets = _datasets(kwargs.get("train_dataset")) + _datasets(kwargs.get("eval_dataset"))
            check_label_names(model, datasets)
    if kwargs.get("compute_metrics") is None:
        kwargs["compute_metrics"] = build_compute_metrics(task, targets or None)
    return kwargs


def force_arguments(args: TrainingArguments, task: str) -> TrainingArguments:
    """Copy of ``args`` with the settings SER training requires (raw audio columns kept, task label names,
    no external reporting)."""
    args = copy.copy(args)
    args.remove_unused_columns = False
    args.label_names = label_names_for_task(task)
    args.report_to = []
    return args

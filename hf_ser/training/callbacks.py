"""Trainer callbacks of the recipes: a one-line summary per epoch and crop epochs (the model card's
callback is :class:`hf_ser.cards.SERModelCardCallback`).

They only observe training (and set the epoch of the random crop); the training loop stays
transformers' own.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


def _short(metrics: dict[str, Any], prefix: str = "eval_") -> dict[str, float]:
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch")
    return {
        key[len(prefix) :]: float(value)
        for key, value in metrics.items()
        if key.startswith(prefix) and isinstance(value, (int, float)) and not key.endswith(skip)
    }


class EpochSummaryCallback(TrainerCallback):
    """Print one line per epoch: epoch, step, mean train loss, validation metrics, best so far, time.

    Example: ``epoch 3/10 | step 120 | loss 1.2345 | loss 1.3010 uar 0.5120 (best uar 0.5300) | 12.3 s``.
    """

    def __init__(self, metric: Optional[str] = None, printer: Any = print) -> None:
        self.metric = metric
        self.printer = printer
        self._losses: list[float] = []
        self._start = time.monotonic()
        self._pending: Optional[str] = None

    def on_epoch_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ):
        self._losses = []
        self._start = time.monotonic()

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs
    ):
        if logs and "loss" in logs:
            self._losses.append(float(logs["loss"]))

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ):
        total = math.ceil(args.num_train_epochs) if state.max_steps <= 0 else None
        epochs = f"{math.ceil(state.epoch or 0)}/{total or math.ceil(state.num_train_epochs)}"
        loss = f" | loss {sum(self._losses) / len(self._losses):.4f}" if self._losses else ""
        self._pending = f"epoch {epochs} | step {state.global_step}{loss}"
        if args.eval_strategy != "epoch":
            self._flush(state, "")

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics=None,
        **kwargs: Any,
    ):
        if self._pending is None or not metrics:
            return
        values = _short(metrics)
        text = " ".join(f"{key} {value:.4f}" for key, value in values.items())
        if self.metric and state.best_metric is not None:
            text += f" (best {self.metric} {state.best_metric:.4f})"
        self._flush(state, f" | {text}")

    def _flush(self, state: TrainerState, extra: str) -> None:
        if state.is_world_process_zero and self._pending is not None:
            self.printer(f"{self._pending}{extra} | {time.monotonic() - self._start:.1f} s")
        self._pending = None


class CropEpochCallback(TrainerCallback):
    """Tell the training transform which epoch runs, so random crops change per epoch but are reproducible
    (also after ``--resume``: the crop depends on seed, epoch and clip, not on how many were drawn).

    ``transform``: anything with an ``epoch`` attribute, i.e. a :class:`hf_ser.data.transforms.RandomCrop`
    or a :class:`hf_ser.data.SERDataCollator` that crops."""

    def __init__(self, transform: Any) -> None:
        self.transform = transform

    def on_epoch_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ):
        self.transform.epoch = int(math.floor((state.epoch or 0) + 1e-9))

"""A `TrainerCallback` that fills :class:`~hf_ser.cards.card_data.SERCardData` while a model trains.

It records what only the training run knows: the model's task, labels, architecture and parameter
counts (at init), the hyper-parameters and the training data (at train begin), one row per evaluation
with the latest training loss (on evaluate), and LoRA settings when the model is a peft model.
Add it to any `transformers.Trainer` (the hf_ser Trainer adds it itself) and write the card with
:func:`~hf_ser.cards.render.save_model_card` after training.

Example:

```python
>>> from hf_ser.cards import SERCardData, SERModelCardCallback
>>> callback = SERModelCardCallback(SERCardData(datasets=["emodb"], language=["de"]))
>>> # trainer = Trainer(..., callbacks=[callback]); trainer.train()
>>> # save_model_card(callback.card_data, training_args.output_dir)
>>> callback.card_data.datasets
['emodb']

```
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .card_data import SERCardData, is_metric, is_number, strip_prefix

HYPERPARAMETERS = (
    "learning_rate",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "warmup_steps",
    "weight_decay",
    "lr_scheduler_type",
    "optim",
    "max_grad_norm",
    "seed",
    "bf16",
    "fp16",
)
"""`TrainingArguments` fields worth stating on a card (others are defaults nobody needs to read)."""


def label_counts(dataset: Any, id2label: dict[int, str]) -> Optional[dict[str, int]]:
    """Clips per label of a `datasets.Dataset` with a `label`/`labels` column, else `None`."""
    column_names = getattr(dataset, "column_names", None)
    if not column_names:
        return None
    column = "label" if "label" in column_names else "labels" if "labels" in column_names else None
    if column is None:
        return None
    counts = Counter(int(value) for value in dataset[column])  # int(): rows may be 0-d tensors (torch format)
    return {id2label.get(k, str(k)): v for k, v in sorted(counts.items())}


def _num_speakers(dataset: Any) -> Optional[int]:
    column_names = getattr(dataset, "column_names", None)
    if column_names and "speaker" in column_names:
        return len({str(speaker) for speaker in dataset["speaker"]})
    return None


class SERModelCardCallback(TrainerCallback):
    """Fill :attr:`card_data` from a `Trainer` run.

    Args:
        card_data (`SERCardData`, *optional*): facts known before training (model id, language,
            datasets, protocol, ...); a fresh `SERCardData` when omitted.
    """

    def __init__(self, card_data: Optional[SERCardData] = None) -> None:
        self.card_data = card_data if card_data is not None else SERCardData()
        self._last_train_loss: Optional[float] = None

    # -- model -------------------------------------------------------------------------------------
    def _record_model(self, model: Any) -> None:
        config = getattr(model, "config", None)
        peft_config = getattr(model, "peft_config", None)
        if peft_config:
            lora = next(iter(peft_config.values()))
            targets = getattr(lora, "target_modules", None) or []
            self.card_data.lora = {
                "r": getattr(lora, "r", None),
                "alpha": getattr(lora, "lora_alpha", None),
                # peft keeps a list of names as a set and a regex as a string
                "target_modules": [targets] if isinstance(targets, str) else sorted(targets),
            }
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            config = getattr(base, "config", config)
        if config is not None:
            self.card_data.fill_from_config(config)
        parameters = list(model.parameters())
        self.card_data.num_parameters = sum(p.numel() for p in parameters)
        self.card_data.num_trainable_parameters = sum(p.numel() for p in parameters if p.requires_grad)

    def on_init_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs,
    ) -> None:
        if model is not None:
            self._record_model(model)

    # -- hyper-parameters and data -----------------------------------------------------------------
    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs,
    ) -> None:
        if model is not None:
            self._record_model(model)  # trainable counts can change after init (freezing, LoRA)
        hyperparameters = {name: getattr(args, name) for name in HYPERPARAMETERS if hasattr(args, name)}
        hyperparameters = {k: (v.value if hasattr(v, "value") else v) for k, v in hyperparameters.items()}
        if hyperparameters.get("max_steps", -1) <= 0:
            hyperparameters.pop("max_steps", None)
        if not hyperparameters.get("warmup_steps"):
            hyperparameters.pop("warmup_steps", None)
        for flag in ("bf16", "fp16"):
            if not hyperparameters.get(flag):
                hyperparameters.pop(flag, None)
        hyperparameters["total_train_batch_size"] = (
            args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
        )
        self.card_data.hyperparameters.update(hyperparameters)

        self._record_data("train", kwargs.get("train_dataloader"), model)

    def _record_data(self, split: str, dataloader: Any, model: Any) -> None:
        """Clips, clips per label and speakers of the dataset behind `dataloader` (once per split)."""
        dataset = getattr(dataloader, "dataset", None)
        if dataset is None or split in self.card_data.split_sizes:
            return
        self.card_data.split_sizes[split] = len(dataset)
        id2label = {
            int(k): v for k, v in (getattr(getattr(model, "config", None), "id2label", None) or {}).items()
        }
        counts = label_counts(dataset, id2label)
        if counts and self.card_data.task != "regression":
            self.card_data.label_counts[split] = counts
        speakers = _num_speakers(dataset)
        if speakers is not None:
            self.card_data.num_speakers[split] = speakers

    # -- training log ------------------------------------------------------------------------------
    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Any = None,
        **kwargs,
    ) -> None:
        if logs and is_number(logs.get("loss")):
            self._last_train_loss = float(logs["loss"])

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: Any = None,
        **kwargs,
    ) -> None:
        self._record_data("validation", kwargs.get("eval_dataloader"), kwargs.get("model"))
        if not metrics:
            return
        row: dict[str, Any] = {
            "epoch": round(float(state.epoch or 0.0), 2),
            "step": state.global_step,
            "training_loss": self._last_train_loss if self._last_train_loss is not None else "-",
        }
        for key, value in metrics.items():
            if not is_metric(key, value):
                continue
            name = strip_prefix(key)
            row["validation_loss" if name == "loss" else name] = round(float(value), 4)
        self.card_data.eval_rows.append(row)

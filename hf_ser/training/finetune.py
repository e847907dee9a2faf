"""One fine-tuning run, end to end: config -> data -> model -> `SERTrainer` -> checkpoint + artifacts.

:func:`run_finetune` is what ``recipes/finetune.py`` calls; cross-validation and hyper-parameter search
call it once per fold / seed / trial. It works unchanged under ``python`` and ``accelerate launch``
(Trainer handles the processes; only the main process writes the final artifacts).

Output directory after a run::

    model.safetensors, config.json, preprocessor_config.json   the model (config.json: CTC vocabulary too)
    metrics.json                                               {"validation": {...}, "test": {...}}; test
                                                               splits add by_sex / by_speaker figures
    confusion_matrix.png | regression_scatter.png              on the (first) test split
    train_config.yaml                                          the full config, re-runnable with --config
    README.md, card_data.json                                  the model card (hf_ser.cards) and its facts
    checkpoint-*/                                              Trainer checkpoints (for --resume)
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from transformers import EarlyStoppingCallback, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..cards import SERCardData, SERModelCardCallback, save_model_card
from ..cards.callback import label_counts
from ..cards.card_data import CORPORA, METRICS, is_hub_repo_id
from ..data.processor import SERProcessor
from ..data.threads import configure_threads
from ..data.transforms import CenterCrop, RandomCrop
from ..evaluation import Predictions, score_predictions
from ..progress import quiet_progress, quietly
from .artifacts import plot_confusion_matrix, plot_regression_scatter, write_metrics
from .callbacks import CropEpochCallback, EpochSummaryCallback
from .config import TrainConfig
from .lora import count_parameters
from .model_factory import apply_lora, build_model, check_model_options
from .preparation import (
    TrainingData,
    build_augmentation,
    class_weights_from,
    decoded,
    load_dataset_for,
    split_data,
)
from .trainer import SERTrainer, SERTrainingArguments, default_data_collator

GROUP_COLUMNS = ("sex", "speaker")
"""Columns of a test split whose groups get their own figures in ``metrics.json`` and the model card."""


def selection_metric(task: str) -> str:
    """Metric choosing the best checkpoint: UAR for classes (also multitask), mean CCC for regression."""
    return "ccc" if task == "regression" else "uar"


def recipe_card(cfg: TrainConfig) -> SERCardData:
    """The model card facts a recipe knows from its config alone: name, corpus and its language, the
    backbone (as ``base_model`` only when it is a Hub id, not a local path) and the recipe's settings."""
    language = CORPORA.get(cfg.corpus, {}).get("language")
    backbone = cfg.backbone if cfg.model_type == "ser" else None
    settings = {
        "model_type": cfg.model_type,
        "backbone": backbone,
        "backbone_learning_rate": cfg.backbone_learning_rate,
        "freeze_backbone_steps": cfg.freeze_backbone_steps,
        "lora": cfg.lora,
        "ctc_alpha": cfg.ctc_alpha,
        "augment": cfg.augment,
        "speed_perturbation": cfg.speed_perturbation,
        "test_time_speeds": cfg.test_time_speeds,
        "class_weights": cfg.class_weights,
        "feature_normalization": cfg.feature_normalization if cfg.model_type == "lstm_sa" else None,
        "max_train_seconds": cfg.max_train_seconds,
    }
    return SERCardData(
        model_name=Path(cfg.output_dir).name,
        base_model=backbone if is_hub_repo_id(backbone) and "/" in backbone else None,
        datasets=[cfg.corpus],
        language=[language] if language else [],
        hyperparameters={key: value for key, value in settings.items() if value is not None},
    )


def group_results(
    cfg: TrainConfig, data: TrainingData, split: Any, output: Any
) -> dict[str, dict[str, dict[str, float]]]:
    """Per sex and per speaker of a test split: clips (``n``) and UAR (classes) or mean CCC (regression).

    ``output`` is ``Trainer.predict``'s result on ``split`` (same rows, same order); the figures come from
    :func:`hf_ser.evaluation.score_predictions` (no bootstrap). Returns ``{"sex": {"female": {"n": 12,
    "uar": 0.61}, ...}, "speaker": {...}}`` for the :data:`GROUP_COLUMNS` the split has.
    """

    columns = [column for column in GROUP_COLUMNS if column in split.column_names]
    if not columns:
        return {}
    values = output.predictions if isinstance(output.predictions, tuple) else (output.predictions,)
    scores = np.asarray(values[0], dtype=float) if cfg.task != "regression" else None
    regression = {}
    if cfg.task != "classification":
        array = np.asarray(values[-1], dtype=float).reshape(len(split), -1)
        regression = {name: array[:, i] for i, name in enumerate(data.regression_targets)}
    labels = list(data.id2label.values()) if scores is not None else []
    result = score_predictions(
        Predictions(labels=labels, scores=scores, regression=regression),
        split,
        group_columns=columns,
        bootstrap=0,
    )
    metric = selection_metric(cfg.task)  # evaluation calls mean CCC "ccc_mean", the recipes "ccc"
    return {
        column: {
            name: {"n": entry["n"], metric: entry[result.primary_metric]} for name, entry in groups.items()
        }
        for column, groups in result.groups.items()
    }


def bf16_enabled(setting: Any) -> bool:
    """Resolve ``bf16: auto`` (a CUDA GPU with bfloat16 support) or an explicit true/false."""
    if setting == "auto":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(setting)


def build_training_arguments(cfg: TrainConfig, has_validation: bool, train_size: int) -> TrainingArguments:
    """`TrainingArguments` for ``cfg`` (evaluation, saving, best-model selection, schedule, precision)."""
    evaluate = has_validation and cfg.eval_strategy != "no"
    eval_strategy = cfg.eval_strategy if evaluate else "no"
    save_strategy = eval_strategy if evaluate else ("steps" if cfg.save_steps else "epoch")
    save_steps = cfg.eval_steps if evaluate and cfg.eval_strategy == "steps" else cfg.save_steps
    kwargs: dict[str, Any] = dict(
        output_dir=cfg.output_dir,
        seed=cfg.seed,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.lr_scheduler_type,
        max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        eval_strategy=eval_strategy,
        save_strategy=save_strategy,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=evaluate,
        metric_for_best_model=selection_metric(cfg.task) if evaluate else None,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=cfg.logging_steps,
        report_to="none",
        bf16=bf16_enabled(cfg.bf16),
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=cfg.dataloader_num_workers,
        disable_tqdm=cfg.disable_tqdm,
        restore_callback_states_from_checkpoint=cfg.early_stopping_patience is not None,
        remove_unused_columns=False,
    )
    if cfg.eval_steps and evaluate:
        kwargs["eval_steps"] = cfg.eval_steps
    if save_steps:
        kwargs["save_steps"] = save_steps
    if cfg.restart_period_epochs is not None:
        kwargs["lr_scheduler_type"] = "cosine_with_restarts"
    args = SERTrainingArguments(**kwargs, balanced_sampling=cfg.balanced_sampling)
    if cfg.restart_period_epochs is not None:
        steps_per_epoch = max(
            1,
            math.ceil(
                train_size / (args.train_batch_size * args.world_size * args.gradient_accumulation_steps)
            ),
        )
        epochs = cfg.max_steps / steps_per_epoch if cfg.max_steps > 0 else cfg.num_train_epochs
        args.lr_scheduler_kwargs = {"num_cycles": max(1, math.ceil(epochs / cfg.restart_period_epochs))}
    return args


def fit_feature_normalization(cfg: TrainConfig, extractor: Any, train: Any) -> None:
    """With ``feature_normalization: global``, fit the extractor's per-feature mean/std on the training
    clips (whole clips, no crop or augmentation) so the statistics never see validation or test speakers;
    they are saved with the model in ``preprocessor_config.json``."""
    if cfg.feature_normalization != "global":
        return
    if not hasattr(extractor, "fit_global_normalization"):
        raise ValueError(
            f"feature_normalization 'global' needs a feature extractor with fit_global_normalization; "
            f"{type(extractor).__name__} has none."
        )
    clips = (row["audio"]["array"] for row in decoded(train, CenterCrop(None)))
    extractor.fit_global_normalization(clips)


def text_tokenizer(cfg: TrainConfig, model: Any) -> Any:
    """The text encoder's tokenizer for a model with text as a second input (``model: {text_backbone:
    <id>}``), loaded from the text model id (or the checkpoint being continued); ``None`` otherwise."""
    config = model.config
    if getattr(config, "text_backbone", None) is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(getattr(config, "text_backbone_name_or_path", None) or cfg.backbone)


def make_collator(extractor: Any, task: str, targets: Sequence[str]) -> Any:
    """The data layer's collator, padding only (:func:`hf_ser.training.trainer.default_data_collator`)."""
    return default_data_collator(extractor, task, targets)


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.safetensors",
    "pytorch_model.bin",
)
"""Weight files a Trainer checkpoint may hold (plain, sharded, LoRA adapter, legacy)."""


def checkpoint_problem(checkpoint: Path) -> Optional[str]:
    """Why ``checkpoint`` cannot be resumed from (None when it can).

    `Trainer` writes ``trainer_state.json`` last, after the weights, optimizer and RNG states, so a kill
    while a checkpoint is written leaves it missing; the weights are also opened (safetensors checks its
    header against the file size, which catches a truncated file)."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"no readable trainer_state.json ({type(error).__name__})"
    weights = [checkpoint / name for name in WEIGHT_FILES if (checkpoint / name).is_file()]
    if not weights:
        return f"no weights ({', '.join(WEIGHT_FILES)})"
    return _weights_problem(weights[0])


def _weights_problem(path: Path) -> Optional[str]:
    """Why the weight file ``path`` does not load (None when its header and size are consistent)."""
    if path.suffix != ".safetensors":
        return None if path.stat().st_size > 0 else f"{path.name} is empty"
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as weights:
            weights.keys()
    except Exception as error:  # safetensors raises its own SafetensorError for corrupt files
        return f"{path.name} does not load ({error})"
    return None


def last_complete_checkpoint(output_dir: Path) -> Optional[str]:
    """The newest ``checkpoint-N`` of ``output_dir`` that can be resumed from; incomplete ones (a kill while
    they were written) are skipped with a warning."""
    steps = sorted(
        (int(path.name.split("-")[1]), path)
        for path in output_dir.glob("checkpoint-*")
        if path.is_dir() and path.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        warnings.warn(f"{path} is incomplete ({problem}); skipping it.", UserWarning, stacklevel=2)
    return None


def find_checkpoint(cfg: TrainConfig) -> Optional[str]:
    """Checkpoint to resume from (``--resume``), or None; refuse to silently mix with an old run."""
    output_dir = Path(cfg.output_dir)
    if cfg.resume:
        last = last_complete_checkpoint(output_dir) if output_dir.is_dir() else None
        if last is not None:
            print(f"--resume: continuing from {last}")
        elif output_dir.is_dir() and any(output_dir.iterdir()):
            print(f"--resume: no complete checkpoint in {output_dir}, starting from scratch.")
        return last
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last is not None:
        raise ValueError(
            f"{output_dir} already holds checkpoints ({Path(last).name}); "
            "pass --resume to continue that run or "
            "choose another --output_dir."
        )
    return None


def run_finetune(
    cfg: TrainConfig,
    data: Optional[TrainingData] = None,
    callbacks: Sequence[TrainerCallback] = (),
    write_outputs: bool = True,
    setup: Optional[Callable[[Any, Any, SERCardData], tuple[type, dict[str, Any]]]] = None,
) -> dict[str, dict[str, float]]:
    """Train and evaluate one model; return ``{"validation": metrics, "test": metrics, ...}``.

    Args:
        cfg: the run's configuration.
        data: pre-split data (crossval passes each fold); `None` loads and splits the corpus per `cfg`.
        callbacks: extra Trainer callbacks (hpo adds its pruning callback).
        write_outputs: save the model, plots, config and card (hpo trials skip this).
        setup: ``setup(model, collator, card) -> (trainer_class, extra_trainer_kwargs)``, called once the
            model is built; the kwargs may replace ``data_collator`` (distillation adds its teacher here).
    """
    check_model_options(cfg)
    checkpoint = find_checkpoint(cfg)
    if data is None:
        data = split_data(cfg, load_dataset_for(cfg))
    set_seed(cfg.seed)  # the new heads' initialisation depends on it
    model, extractor, collator = _model_and_collator(cfg, data)
    threads = configure_threads(model, cfg.dataloader_num_workers)
    count = count_parameters(model)

    crop = RandomCrop(cfg.max_train_seconds, cfg.seed, build_augmentation(cfg))
    eval_crop = CenterCrop(cfg.max_eval_seconds)
    validation = decoded(data.validation, eval_crop) if data.validation is not None else None
    args = build_training_arguments(cfg, validation is not None, len(data.train))
    card = _run_card(cfg, data, args.world_size)
    all_callbacks: list[TrainerCallback] = [
        EpochSummaryCallback(args.metric_for_best_model),
        SERModelCardCallback(card),  # adds the model facts, TrainingArguments and the validation log
        CropEpochCallback(crop),
        *callbacks,
    ]
    if cfg.early_stopping_patience is not None and validation is not None:
        all_callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer_class, extra = (SERTrainer, {}) if setup is None else setup(model, collator, card)
    trainer = trainer_class(
        model=model,
        args=args,
        data_collator=extra.pop("data_collator", collator),
        processing_class=extractor,
        train_dataset=decoded(data.train, crop),
        eval_dataset=validation,
        compute_metrics=_compute_metrics(cfg, data),
        callbacks=all_callbacks,
        backbone_learning_rate=cfg.backbone_learning_rate,
        freeze_backbone_steps=cfg.freeze_backbone_steps,
        task=cfg.task,
        **extra,
    )
    if trainer.is_world_process_zero():
        print(
            f"{cfg.model_type} model: {count.trainable:,} trainable / {count.total:,} parameters; "
            f"splits {data.sizes()}; {data.protocol}; {threads} thread(s)"
        )
    with quiet_progress():  # no "Writing model shards" bar per checkpoint; the training bar stays
        trainer.train(resume_from_checkpoint=checkpoint)
    results, predictions = _evaluate_splits(cfg, trainer, data, validation, eval_crop, card)
    if write_outputs and trainer.is_world_process_zero():
        _write_outputs(cfg, trainer, data, results, predictions, card)
    trainer.accelerator.wait_for_everyone()
    stripped = {split: _strip(split, metrics) for split, metrics in results.items()}
    if write_outputs and trainer.is_world_process_zero():
        print(summary_line(stripped, selection_metric(cfg.task), cfg.output_dir if cfg.save_model else None))
    return stripped


def _model_and_collator(cfg: TrainConfig, data: TrainingData) -> tuple[Any, Any, Any]:
    """The run's model (LoRA applied, feature statistics fitted, test-time speeds stored), its feature
    extractor (a :class:`~hf_ser.data.processor.SERProcessor` with the tokenizer for models with text as a
    second input) and the padding collator (with CTC labels when ``ctc_alpha > 0``, with the tokenised
    ``text`` column for text models)."""
    num_labels = len(data.id2label)
    weights = (
        class_weights_from(data.train, num_labels) if cfg.class_weights and cfg.task != "regression" else None
    )
    vocab = None
    if cfg.ctc_alpha > 0:
        from .ctc import CharVocab

        vocab = CharVocab.from_texts(data.train["text"])  # saved in config.json as `ctc_vocab`
    model, extractor = build_model(
        cfg,
        data.id2label,
        data.regression_targets,
        class_weights=weights,
        ctc_vocab=vocab.tokens if vocab is not None else None,
    )
    fit_feature_normalization(cfg, extractor, data.train)
    collator = make_collator(extractor, cfg.task, data.regression_targets)
    tokenizer = text_tokenizer(cfg, model)
    if tokenizer is not None:  # text as a second input: the collator tokenises the `text` column
        collator = dataclasses.replace(collator, tokenizer=tokenizer)
        extractor = SERProcessor(extractor, tokenizer)  # saved with every checkpoint and the final model
    if vocab is not None:
        from .ctc import CTCLabelCollator

        collator = CTCLabelCollator(collator, vocab)
    if cfg.test_time_speeds is not None:  # saved with the model: the pipeline averages the same speeds
        model.config.test_time_speeds = list(cfg.test_time_speeds)
    return apply_lora(cfg, model), extractor, collator


def _run_card(cfg: TrainConfig, data: TrainingData, world_size: int) -> SERCardData:
    """The model card facts known before training: config, protocol, split sizes, speakers, labels."""
    card = recipe_card(cfg)
    card.protocol = data.protocol
    card.hyperparameters["world_size"] = world_size
    card.split_sizes = data.sizes()
    card.num_speakers = {split: len(speakers) for split, speakers in data.speakers.items()}
    if cfg.task != "regression":
        splits = {"train": data.train, "validation": data.validation, **data.tests}
        card.label_counts = {
            name: label_counts(split, data.id2label) for name, split in splits.items() if split is not None
        }
    return card


def _evaluate_splits(
    cfg: TrainConfig, trainer: Any, data: TrainingData, validation: Any, eval_crop: CenterCrop, card: Any
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Metrics of the trained model on the validation and test splits (tests with per-group figures),
    and the test splits' raw predictions (for the plots)."""
    results: dict[str, dict[str, Any]] = {}
    predictions: dict[str, Any] = {}
    if validation is not None:
        logged = len(card.eval_rows)
        results["validation"] = trainer.evaluate(validation, metric_key_prefix="validation")
        del card.eval_rows[logged:]  # the training log ends with training; this figure goes to the results
    for name, split in data.tests.items():
        output = predict_test_split(cfg, trainer, split, name, eval_crop)
        results[name] = output.metrics
        for column, groups in group_results(cfg, data, split, output).items():
            results[name][f"by_{column}"] = groups
        predictions[name] = output
    return results, predictions


def summary_line(results: dict[str, dict[str, Any]], metric: str, output_dir: Any) -> str:
    """The one line a run ends with: the selection metric of each evaluated split and where the model is."""
    scores = ", ".join(
        f"{split} {metric} {values[metric]:.4f}"
        for split, values in results.items()
        if isinstance(values.get(metric), (int, float))
    )
    where = f"model saved to {output_dir}" if output_dir is not None else "model not saved (save_model false)"
    return f"done: {scores or 'no evaluation split'}; {where}"


def _at_speed(array: np.ndarray, sampling_rate: int, label: Any = None, *, crop: Any, speed: float) -> Any:
    """An evaluation clip (``crop`` applied) played at ``speed`` (picklable via ``functools.partial``)."""
    from ..data.audio import change_speed

    return change_speed(crop(array, sampling_rate), sampling_rate, speed)


def average_predictions(runs: list[Any], task: str) -> Any:
    """Average ``Trainer.predict`` predictions of the same clips: class probabilities (returned as
    log-probabilities, valid logits) and regression values; other outputs come from the first run."""
    from ..inference.speed_averaging import mean_probability_logits

    as_tuples = [run if isinstance(run, tuple) else (run,) for run in runs]
    averaged = list(as_tuples[0])
    for index in range(min(len(averaged), 2 if task == "multitask" else 1)):
        values = [run[index] for run in as_tuples]
        is_classes = task == "classification" or (task == "multitask" and index == 0)
        averaged[index] = mean_probability_logits(values) if is_classes else np.mean(values, axis=0)
    return tuple(averaged) if isinstance(runs[0], tuple) else averaged[0]


def predict_test_split(cfg: TrainConfig, trainer: Any, split: Any, name: str, eval_crop: CenterCrop) -> Any:
    """``trainer.predict`` on a test split; with ``cfg.test_time_speeds`` also on the split played at
    each speed, the predictions averaged and the metrics recomputed from the average (the loss stays
    that of the clips at their own speed)."""
    from functools import partial

    from transformers import EvalPrediction

    from ..inference.speed_averaging import check_test_time_speeds

    output = trainer.predict(decoded(split, eval_crop), metric_key_prefix=name)
    speeds = check_test_time_speeds(cfg.test_time_speeds)  # the pipeline's rule: 1.0 is the clip itself
    if not speeds:
        return output
    runs = [output.predictions] + [
        trainer.predict(
            decoded(split, partial(_at_speed, crop=eval_crop, speed=speed)), metric_key_prefix=name
        ).predictions
        for speed in speeds
    ]
    predictions = average_predictions(runs, cfg.task)
    metrics = trainer.compute_metrics(EvalPrediction(predictions=predictions, label_ids=output.label_ids))
    output.metrics.update({f"{name}_{key}": value for key, value in metrics.items()})
    return output._replace(predictions=predictions)


def _compute_metrics(cfg: TrainConfig, data: TrainingData) -> Any:
    from ..metrics import build_compute_metrics

    return build_compute_metrics(cfg.task, data.regression_targets)


def _strip(split: str, metrics: dict[str, Any]) -> dict[str, float]:
    prefix = f"{split}_"
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in metrics.items()}


@quietly
def _write_outputs(
    cfg: TrainConfig,
    trainer: SERTrainer,
    data: TrainingData,
    results: dict,
    predictions: dict,
    card: SERCardData,
) -> None:
    output_dir = Path(cfg.output_dir)
    if cfg.save_model:
        model = trainer.model
        if cfg.lora and hasattr(model, "merge_and_unload"):
            model.save_pretrained(output_dir / "lora_adapter")
            model = model.merge_and_unload()
        model.save_pretrained(output_dir)
        trainer.processing_class.save_pretrained(output_dir)
    if not cfg.keep_checkpoints:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint)
    write_metrics(output_dir, results)
    if predictions:
        name, output = next(iter(predictions.items()))
        _plot(cfg, data, output, output_dir, name)
    cfg.to_yaml(output_dir / "train_config.yaml")
    save_model_card(fill_card_results(cfg, data, card, results), output_dir)


def fill_card_results(
    cfg: TrainConfig, data: TrainingData, card: SERCardData, results: dict[str, dict[str, Any]]
) -> SERCardData:
    """Add the evaluated splits' figures (model-index rows), the per-group tables of the test split(s)
    and a limitation naming the size of the test set, then return ``card``."""
    for split, metrics in results.items():
        for key, value in _strip(split, metrics).items():
            if key in METRICS and isinstance(value, (int, float)) and math.isfinite(value):
                card.add_result(key, value, dataset=cfg.corpus, split=split)
    for split in data.tests:
        for key, groups in results.get(split, {}).items():
            if key.startswith("by_") and groups:
                column = key[len("by_") :]
                card.set_group_results(column if len(data.tests) == 1 else f"{column} ({split})", groups)
        speakers = card.num_speakers.get(split)
        card.limitations.append(
            f"The {split} split has {card.split_sizes.get(split)} clips"
            + (f" from {speakers} speakers" if speakers else "")
            + f" of {CORPORA.get(cfg.corpus, {}).get('name', cfg.corpus)}; a test set this size gives wide "
            "confidence intervals."
        )
    return card


def _plot(cfg: TrainConfig, data: TrainingData, output: Any, output_dir: Path, split: str) -> None:
    predictions = output.predictions if isinstance(output.predictions, tuple) else (output.predictions,)
    labels = output.label_ids if isinstance(output.label_ids, tuple) else (output.label_ids,)
    if cfg.task != "regression":
        from ..metrics import confusion_matrix

        names = list(data.id2label.values())
        keep = np.asarray(labels[0]) >= 0
        matrix = confusion_matrix(
            predictions=np.asarray(predictions[0])[keep].argmax(-1),
            references=np.asarray(labels[0])[keep],
            num_labels=len(names),
        )
        plot_confusion_matrix(matrix, names, output_dir / "confusion_matrix.png", title=f"{split} (recall %)")
    if cfg.task != "classification":
        values = np.asarray(predictions[1] if cfg.task == "multitask" else predictions[0])
        targets = np.asarray(labels[-1], dtype=float)
        keep = ~np.isnan(targets).any(axis=1)
        metrics = _strip(split, output.metrics)
        ccc = [metrics.get(f"ccc_{name}", float("nan")) for name in data.regression_targets]
        plot_regression_scatter(
            values[keep],
            targets[keep],
            data.regression_targets,
            output_dir / "regression_scatter.png",
            ccc=ccc,
        )

"""Rebuild :class:`~hf_ser.cards.card_data.SERCardData` from what a finished run left on disk.

A run directory written by the hf_ser recipes holds `config.json` (the model), `card_data.json` (the
card facts gathered during training, when the run used :func:`~hf_ser.cards.render.save_model_card`),
`metrics.json` (per split), `train_config.yaml`, and, depending on the recipe, `summary.json`
(cross-validation: `{"metric", "mean", "std", "max", "runs": [...]}`) and an evaluation
`report.json` (`overall`, `by_sex`, `by_speaker`, ...; also looked for in `report/`). This module reads
whichever of them exist, so :func:`hf_ser.hub.publish` can always write a complete card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Union

import yaml

from .card_data import CORPORA, METRICS, SERCardData, is_hub_repo_id
from .render import CARD_DATA_FILENAME

TRAIN_CONFIG_HYPERPARAMETERS = (
    "model_type", "pooling", "learning_rate", "backbone_learning_rate", "per_device_train_batch_size",
    "gradient_accumulation_steps", "num_train_epochs", "max_steps", "weight_decay", "warmup_ratio",
    "lr_scheduler_type", "seed", "augment", "class_weights", "max_train_seconds", "freeze_backbone_steps",
    "ctc_alpha",
)  # fmt: skip
"""`train_config.yaml` keys stated on the card when present (and not null)."""

PROTOCOL_NAMES = {"speaker_folds": "speaker-independent folds", "official": "official splits"}


def _is_set(key: str, value: Any) -> bool:
    """A setting worth stating: not unset/off (`None`, `False`, `max_steps=-1`, `ctc_alpha=0`, ...)."""
    if value is None or value is False:
        return False
    return not (key in ("max_steps", "ctc_alpha", "freeze_backbone_steps") and value <= 0)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _find(run_dir: Path, name: str) -> Union[Path, None]:
    for candidate in (run_dir / name, run_dir / "report" / name):
        if candidate.is_file():
            return candidate
    return None


def _saved_card_data(run_dir: Path) -> SERCardData:
    """The card facts gathered during training, or those the model's `config.json` gives."""
    saved = run_dir / CARD_DATA_FILENAME
    if saved.is_file():
        return SERCardData.load(saved)
    card_data = SERCardData()
    card_data.fill_from_config(_read_json(run_dir / "config.json"))
    return card_data


def _read_train_config(run_dir: Path) -> dict[str, Any]:
    """The run's `train_config.yaml` (empty when the run has none)."""
    path = run_dir / "train_config.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _fill_corpus(card_data: SERCardData, train_config: dict[str, Any]) -> None:
    """The training corpus as the card's dataset, and its language when the card has none."""
    corpus = train_config.get("corpus")
    if corpus and not card_data.datasets:
        card_data.datasets = [str(corpus)]
        language = CORPORA.get(str(corpus), {}).get("language")
        if language and not card_data.language:
            card_data.language = [language]


def _fill_base_model(card_data: SERCardData, train_config: dict[str, Any]) -> None:
    """The backbone as `base_model` when it is a Hub repo id (not a local path)."""
    backbone = train_config.get("backbone")
    if is_hub_repo_id(backbone) and "/" in backbone and not card_data.base_model:
        card_data.base_model = backbone


def _fill_hyperparameters(card_data: SERCardData, train_config: dict[str, Any]) -> None:
    """The settings of :data:`TRAIN_CONFIG_HYPERPARAMETERS` that are set."""
    if not card_data.hyperparameters:
        card_data.hyperparameters = {
            k: train_config[k] for k in TRAIN_CONFIG_HYPERPARAMETERS if _is_set(k, train_config.get(k))
        }


def _fill_lora(card_data: SERCardData, train_config: dict[str, Any]) -> None:
    """Rank, scaling and target modules of a LoRA run."""
    if train_config.get("lora") and not card_data.lora:
        card_data.lora = {
            "r": train_config.get("lora_r"),
            "alpha": train_config.get("lora_alpha"),
            "target_modules": train_config.get("lora_target_modules") or [],
        }


def _fill_protocol(card_data: SERCardData, train_config: dict[str, Any]) -> None:
    """The evaluation protocol in words (with the number of folds)."""
    if not card_data.protocol and train_config.get("protocol") in PROTOCOL_NAMES:
        folds = train_config.get("folds")
        card_data.protocol = PROTOCOL_NAMES[train_config["protocol"]] + (f", {folds} folds" if folds else "")


TRAIN_CONFIG_FILLERS = (_fill_corpus, _fill_base_model, _fill_hyperparameters, _fill_lora, _fill_protocol)
"""What `train_config.yaml` adds to a card, in order (each fills only what the card lacks)."""


def _add_split_results(card_data: SERCardData, run_dir: Path) -> None:
    """The card metrics of each evaluated split of `metrics.json` (not the training split)."""
    dataset = "+".join(card_data.datasets) if card_data.datasets else None
    if not (run_dir / "metrics.json").is_file() or not dataset or card_data.results:
        return
    for split, metrics in _read_json(run_dir / "metrics.json").items():
        if split == "train" or not isinstance(metrics, dict):
            continue
        for key, value in metrics.items():
            if key in METRICS and isinstance(value, (int, float)):
                card_data.add_result(key, value, dataset=dataset, split=split)


def _fold_metrics(run: dict[str, Any], metric: Any) -> dict[str, Any]:
    """A cross-validation run's test metrics.

    The recipes' crossval writes `{"fold", "seed", "value", "test": {metric: value}}`; other summaries
    hold the metrics inline, with `value` being the summary's `metric`.
    """
    metrics = run.get("test") or run.get("metrics")
    if isinstance(metrics, dict):
        return metrics
    metrics = {k: v for k, v in run.items() if k not in ("fold", "seed", "value")}
    if "value" in run and metric:
        metrics.setdefault(metric, run["value"])
    return metrics


def _add_fold_results(card_data: SERCardData, run_dir: Path) -> None:
    """Per-fold results of a cross-validation `summary.json`."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file() or card_data.fold_results:
        return
    summary = _read_json(summary_path)
    for run in summary.get("runs", []):
        if isinstance(run, dict):
            metrics = _fold_metrics(run, summary.get("metric"))
            card_data.add_fold_result(metrics, fold=run.get("fold"), seed=run.get("seed"))


def _add_group_results(card_data: SERCardData, run_dir: Path) -> None:
    """The `by_<group>` tables of an evaluation `report.json`."""
    report_path = _find(run_dir, "report.json")
    if report_path is None:
        return
    for key, groups in _read_json(report_path).items():
        if key.startswith("by_") and isinstance(groups, dict) and groups:
            card_data.set_group_results(key[len("by_") :], groups)


def card_data_from_run(run_dir: Union[str, Path]) -> SERCardData:
    """Card facts for the run in `run_dir` (see the module docstring for the files read).

    `card_data.json` wins when present (it was gathered during training); the other files only add
    what it lacks (evaluation report tables, cross-validation runs).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir} is not a model directory: it has no config.json.")
    card_data = _saved_card_data(run_dir)
    train_config = _read_train_config(run_dir)
    for fill in TRAIN_CONFIG_FILLERS:
        fill(card_data, train_config)
    _add_split_results(card_data, run_dir)
    _add_fold_results(card_data, run_dir)
    _add_group_results(card_data, run_dir)
    return card_data

"""Cross-validation: any recipe config over speaker-independent folds x seeds, resumable, summarised.

Each run (fold ``f``, seed ``seed + s``) is a normal :func:`~.finetune.run_finetune` in
``<output_dir>/fold<f>_seed<s>/``; a run whose ``metrics.json`` exists is finished and is skipped when
the command is repeated (an interrupted run continues from its last checkpoint). The summary has the
shape of the ResLSTM-SA paper's table (Krasnoproshin & Vashkevich): for every seed the test metric is
averaged over the folds, then mean ± std and max are taken over the seeds (over the folds when there is
one seed); std is the sample standard deviation (ddof=1, 0.0 for one value), as papers report it.
Written as ``summary.json`` and ``summary.md``; when every run has finished, a model card
(``README.md`` + ``card_data.json``, :mod:`hf_ser.cards`) states the per-run results and their
mean ± std, and the per-sex / per-speaker figures averaged over the runs.

Example:

```python
>>> from hf_ser.training import parse_config, run_crossval  # doctest: +SKIP
>>> summary = run_crossval(parse_config(["--config", "recipes/configs/reslstm_sa_h64.yaml",
...     "--corpus", "emodb", "--data_dir", "../shared/data/emodb",
...     "--folds", "5", "--seeds", "10"]))  # doctest: +SKIP
>>> summary["metric"], round(summary["mean"], 3)  # doctest: +SKIP
('uar', 0.712)
```
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..cards import SERCardData, save_model_card
from ..cards.card_data import DEFAULT_LIMITATIONS, METRICS, mean_std
from ..cards.render import CARD_DATA_FILENAME
from .artifacts import write_json
from .config import TrainConfig
from .finetune import recipe_card, run_finetune, selection_metric
from .preparation import compute_folds, load_dataset_for, split_data, uses_official_splits


def run_directory(output_dir: str, fold: int, seed_index: int) -> Path:
    return Path(output_dir) / f"fold{fold:02d}_seed{seed_index}"


def run_crossval(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or resume) every fold x seed and return the summary dict (also written to disk)."""
    from accelerate import PartialState

    from .model_factory import check_model_options

    check_model_options(cfg)
    dataset = load_dataset_for(cfg)
    folds = None if uses_official_splits(cfg, dataset) else compute_folds(cfg, dataset)
    n_folds = 1 if folds is None else len(folds)
    metric = selection_metric(cfg.task)
    main_process = PartialState().is_main_process
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    for fold in range(n_folds):
        for seed_index in range(cfg.seeds):
            runs.append(crossval_run(cfg, dataset, folds, fold, seed_index, verbose=main_process))
            if main_process:
                summary = write_summary(cfg, runs, metric, n_folds, chance_level(cfg, dataset))
    result = summarize(runs, metric, n_folds, cfg.seeds, chance_level(cfg, dataset))
    if main_process:
        warn_collapsed(summary)
        save_model_card(crossval_card(cfg, summary, runs), cfg.output_dir)
        print(
            f"crossval done: test {metric} {result['mean']:.4f} ± {result['std']:.4f} over {len(runs)} runs; "
            f"summary and runs in {cfg.output_dir}"
        )
    return result


def crossval_run(
    cfg: TrainConfig,
    dataset: Any,
    folds: Optional[list],
    fold: int,
    seed_index: int,
    verbose: bool = True,
) -> dict[str, Any]:
    """One fold x seed run in ``run_directory(cfg.output_dir, fold, seed_index)``: skipped when its
    ``metrics.json`` exists (finished earlier), else trained (resuming a checkpoint). Returns the run
    record :func:`summarize` takes (``fold``, ``seed``, ``value``, ``test_split``, ``metrics``, ...)."""
    run_dir = run_directory(cfg.output_dir, fold, seed_index)
    metrics_file = run_dir / "metrics.json"
    seed = cfg.seed + seed_index
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        if verbose:
            print(f"fold {fold} seed {seed}: finished earlier, skipped")
    else:
        run_cfg = cfg.replace(
            output_dir=str(run_dir), fold=fold, seed=seed, resume=True, keep_checkpoints=False
        )
        if verbose:
            n_folds = 1 if folds is None else len(folds)
            print(f"=== fold {fold + 1}/{n_folds}, seed {seed} ({seed_index + 1}/{cfg.seeds}) ===")
        metrics = run_finetune(run_cfg, split_data(run_cfg, dataset, folds))
    test_split = next(name for name in metrics if name != "validation")
    return {
        "fold": fold,
        "seed": seed,
        "value": metrics[test_split].get(selection_metric(cfg.task)),
        "test_split": test_split,
        "output_dir": str(run_dir),
        "metrics": metrics,
    }


def chance_level(cfg: TrainConfig, dataset: Any) -> Optional[float]:
    """The metric's chance level: 1 / number of classes for UAR (what a constant or random classifier
    scores), ``None`` for regression (mean CCC has no class-count chance level)."""
    if cfg.task == "regression":
        return None
    return 1.0 / len(dataset.features["label"].names)


def collapsed_runs(runs: list[dict[str, Any]], chance: Optional[float]) -> list[dict[str, Any]]:
    """Runs whose test metric is at or below ``chance`` (a fold where the model learnt nothing that
    transfers to the test speakers: often one class predicted for every clip). Missing values count too."""
    if chance is None:
        return []
    return [
        {"fold": run["fold"], "seed": run["seed"], "value": run["value"]}
        for run in runs
        if run["value"] is None or np.isnan(run["value"]) or run["value"] <= chance + 1e-12
    ]


def warn_collapsed(summary: dict[str, Any]) -> None:
    """Print one warning line naming the collapsed fold runs of a summary (nothing when there are none)."""
    collapsed = summary.get("collapsed") or []
    if collapsed:
        where = ", ".join(f"fold {run['fold']} seed {run['seed']}" for run in collapsed)
        warnings.warn(
            f"{len(collapsed)} run(s) at or below chance ({summary['metric']} <= "
            f"{summary['chance']:.4f}), collapsed: {where}",
            stacklevel=2,
        )


def _sample_std(values: Any) -> float:
    """Sample standard deviation (ddof=1) of the non-NaN values; 0.0 for one value, NaN for none.
    The same statistic as the model card's mean ± std (:meth:`hf_ser.cards.SERCardData.fold_summary`)."""
    finite = [float(v) for v in values if not np.isnan(v)]
    return mean_std(finite)[1] if finite else float("nan")


def summarize(
    runs: list[dict[str, Any]], metric: str, n_folds: int, n_seeds: int, chance: Optional[float] = None
) -> dict[str, Any]:
    """``{"metric", "mean", "std", "max", "over", "runs", "collapsed", ...}`` from per-run test values.

    ``chance`` (1 / classes for UAR; see :func:`chance_level`) flags the runs at or below it in
    ``collapsed`` (``[{"fold", "seed", "value"}]``; empty when ``chance`` is None)."""
    values = np.array([np.nan if run["value"] is None else run["value"] for run in runs], dtype=float)
    seeds = sorted({run["seed"] for run in runs})
    per_seed = {
        seed: float(np.nanmean([v for v, r in zip(values, runs, strict=True) if r["seed"] == seed]))
        for seed in seeds
    }
    per_fold = {}
    for fold in sorted({run["fold"] for run in runs}):
        fold_values = [v for v, r in zip(values, runs, strict=False) if r["fold"] == fold]
        per_fold[fold] = {"mean": float(np.nanmean(fold_values)), "std": _sample_std(fold_values)}
    over, population = ("seeds", list(per_seed.values())) if len(seeds) > 1 else ("folds", values.tolist())
    population = np.array(population, dtype=float)
    complete = len(runs) == n_folds * n_seeds
    return {
        "metric": metric,
        "mean": float(np.nanmean(population)) if len(population) else float("nan"),
        "std": _sample_std(population),
        "max": float(np.nanmax(population)) if len(population) else float("nan"),
        "min": float(np.nanmin(population)) if len(population) else float("nan"),
        "over": over,
        "n_folds": n_folds,
        "n_seeds": n_seeds,
        "complete": complete,
        "chance": chance,
        "collapsed": collapsed_runs(runs, chance),
        "per_seed": {str(k): v for k, v in per_seed.items()},
        "per_fold": {str(k): v for k, v in per_fold.items()},
        "runs": [
            {k: v for k, v in run.items() if k != "metrics"}
            | {"test": _scalars(run["metrics"][run["test_split"]])}
            for run in runs
        ],
    }


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """A run's test metrics without the per-group tables (``by_sex``, ...; they stay in its metrics.json)."""
    return {key: value for key, value in metrics.items() if not isinstance(value, dict)}


def protocol_name(cfg: TrainConfig, n_folds: int) -> str:
    """``leave-one-speaker-out`` or ``5 speaker folds``: the protocol in words."""
    return f"leave-one-{cfg.group}-out" if cfg.folds is None else f"{n_folds} {cfg.group} folds"


def crossval_card(cfg: TrainConfig, summary: dict[str, Any], runs: list[dict[str, Any]]) -> SERCardData:
    """Model card facts of a cross-validation: the first run's card (model, labels, hyper-parameters;
    the config's facts when it has none) with one row per run, mean ± std over seeds (or runs, the
    statistic of :func:`summarize`) and per-sex / per-speaker tables: each group's test figure averaged
    over the runs that tested it (column ``runs``)."""
    first = run_directory(cfg.output_dir, 0, 0) / CARD_DATA_FILENAME
    card = SERCardData.load(first) if first.is_file() else recipe_card(cfg)
    metric = summary["metric"]
    card.model_name = Path(cfg.output_dir).name
    # The protocol is also the model-index split of the headline (mean ± std) figures.
    card.protocol = f"{protocol_name(cfg, summary['n_folds'])} x {summary['n_seeds']} seed(s)"
    card.hyperparameters.pop("seed", None)
    card.hyperparameters["seeds"] = [cfg.seed + index for index in range(cfg.seeds)]
    card.results, card.eval_rows, card.group_results = [], [], {}
    card.split_sizes, card.label_counts, card.num_speakers = {}, {}, {}
    card.limitations = list(DEFAULT_LIMITATIONS)  # drops the single run's test-set caveat
    groups: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        test = run["metrics"][run["test_split"]]
        card.add_fold_result(
            {k: v for k, v in test.items() if k in METRICS}, fold=run["fold"], seed=run["seed"]
        )
        for key, table in test.items():
            if not (key.startswith("by_") and isinstance(table, dict)):
                continue
            for group, values in table.items():
                if isinstance(values.get(metric), (int, float)):
                    groups.setdefault(key[len("by_") :], {}).setdefault(group, []).append(values[metric])
    for column, by_group in groups.items():
        card.set_group_results(
            column, {group: {metric: float(np.mean(v)), "runs": len(v)} for group, v in by_group.items()}
        )
    return card


def write_summary(
    cfg: TrainConfig,
    runs: list[dict[str, Any]],
    metric: str,
    n_folds: int,
    chance: Optional[float] = None,
) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.md`` (written after every run, so partial results are visible);
    runs at or below ``chance`` are listed as collapsed in both."""
    summary = summarize(runs, metric, n_folds, cfg.seeds, chance)
    summary["config"] = {
        "model_type": cfg.model_type,
        "backbone": cfg.backbone,
        "corpus": cfg.corpus,
        "folds": cfg.folds,
        "group": cfg.group,
        "seeds": cfg.seeds,
        "task": cfg.task,
    }
    output_dir = Path(cfg.output_dir)
    write_json(output_dir / "summary.json", summary)
    (output_dir / "summary.md").write_text(summary_markdown(cfg, summary))
    cfg.to_yaml(output_dir / "train_config.yaml")
    return summary


def summary_markdown(cfg: TrainConfig, summary: dict[str, Any]) -> str:
    """The paper-style table plus per-fold and per-run detail."""
    metric = summary["metric"].upper()
    protocol = protocol_name(cfg, summary["n_folds"])
    name = cfg.model_type if cfg.model_type != "ser" else f"ser ({cfg.backbone})"
    status = (
        ""
        if summary["complete"]
        else f" — partial: {len(summary['runs'])} of {summary['n_folds'] * summary['n_seeds']} runs"
    )
    lines = [
        f"# Cross-validation: {cfg.corpus}, {protocol}, {summary['n_seeds']} seed(s){status}",
        "",
        f"Test {metric} averaged over folds per seed; mean ± std and max over {summary['over']}.",
        "",
        f"| model | {metric} mean ± std | {metric} max |",
        "|---|---|---|",
        f"| {name} | {summary['mean']:.4f} ± {summary['std']:.4f} | {summary['max']:.4f} |",
        "",
        f"| fold | {metric} mean | {metric} std |",
        "|---|---|---|",
    ]
    lines += [
        f"| {fold} | {row['mean']:.4f} | {row['std']:.4f} |" for fold, row in summary["per_fold"].items()
    ]
    lines += ["", f"| fold | seed | {metric} |", "|---|---|---|"]
    lines += [
        f"| {run['fold']} | {run['seed']} | {'n/a' if run['value'] is None else round(run['value'], 4)} |"
        for run in summary["runs"]
    ]
    return "\n".join(lines + collapsed_markdown(summary)) + "\n"


def collapsed_markdown(summary: dict[str, Any]) -> list[str]:
    """Markdown lines listing the collapsed runs (at or below chance), or none when there are none."""
    collapsed = summary.get("collapsed") or []
    if not collapsed:
        return []
    metric = summary["metric"].upper()
    lines = [
        "",
        f"**Collapsed runs** ({metric} at or below chance {summary['chance']:.4f}): "
        f"{len(collapsed)} of {len(summary['runs'])}.",
        "",
        f"| fold | seed | {metric} |",
        "|---|---|---|",
    ]
    lines += [
        f"| {run['fold']} | {run['seed']} | {'n/a' if run['value'] is None else round(run['value'], 4)} |"
        for run in collapsed
    ]
    return lines

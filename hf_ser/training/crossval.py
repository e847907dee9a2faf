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
from pathlib import Path
from typing import Any

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
    if uses_official_splits(cfg, dataset):
        folds, n_folds = None, 1
    else:
        folds = compute_folds(cfg, dataset)
        n_folds = len(folds)
    metric = selection_metric(cfg.task)
    main_process = PartialState().is_main_process
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    for fold in range(n_folds):
        for seed_index in range(cfg.seeds):
            run_dir = run_directory(cfg.output_dir, fold, seed_index)
            metrics_file = run_dir / "metrics.json"
            if metrics_file.is_file():
                metrics = json.loads(metrics_file.read_text())
                if main_process:
                    print(f"fold {fold} seed {cfg.seed + seed_index}: finished earlier, skipped")
            else:
                run_cfg = cfg.replace(
                    output_dir=str(run_dir),
                    fold=fold,
                    seed=cfg.seed + seed_index,
                    resume=True,
                    keep_checkpoints=False,
                )
                if main_process:
                    print(
                        f"=== fold {fold + 1}/{n_folds}, seed {run_cfg.seed} "
                        f"({seed_index + 1}/{cfg.seeds}) ==="
                    )
                metrics = run_finetune(run_cfg, split_data(run_cfg, dataset, folds))
            test_split = next(name for name in metrics if name != "validation")
            runs.append(
                {
                    "fold": fold,
                    "seed": cfg.seed + seed_index,
                    "value": metrics[test_split].get(metric),
                    "test_split": test_split,
                    "output_dir": str(run_dir),
                    "metrics": metrics,
                }
            )
            if main_process:
                summary = write_summary(cfg, runs, metric, n_folds)
    result = summarize(runs, metric, n_folds, cfg.seeds)
    if main_process:
        save_model_card(crossval_card(cfg, summary, runs), cfg.output_dir)
        print(
            f"crossval done: test {metric} {result['mean']:.4f} ± {result['std']:.4f} over {len(runs)} runs; "
            f"summary and runs in {cfg.output_dir}"
        )
    return result


def _sample_std(values: Any) -> float:
    """Sample standard deviation (ddof=1) of the non-NaN values; 0.0 for one value, NaN for none.
    The same statistic as the model card's mean ± std (:meth:`hf_ser.cards.SERCardData.fold_summary`)."""
    finite = [float(v) for v in values if not np.isnan(v)]
    return mean_std(finite)[1] if finite else float("nan")


def summarize(runs: list[dict[str, Any]], metric: str, n_folds: int, n_seeds: int) -> dict[str, Any]:
    """``{"metric", "mean", "std", "max", "over", "runs", ...}`` from per-run test values."""
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


def write_summary(cfg: TrainConfig, runs: list[dict[str, Any]], metric: str, n_folds: int) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.md`` (written after every run, so partial results are visible)."""
    summary = summarize(runs, metric, n_folds, cfg.seeds)
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
    return "\n".join(lines) + "\n"

"""Paper 004's protocol (ResLSTM-SA, Krasnoproshin & Vashkevich) as one resumable run on any corpus.

For each of the six models (``recipes/configs/{lstm_sa,reslstm_sa}_h{32,64,128}.yaml``) and each test fold:

1. **Tune** (:func:`~.hpo.run_hpo`, Optuna TPE): trials train on the fold's training speakers minus the
   next fold and are scored on that next fold (validation speakers); the test split is dropped before the
   trials, so the test speakers are never seen while tuning. One study per (model, test fold): nested
   cross-validation, no setting is chosen on the speakers it is tested on.
2. **Test** (:func:`~.crossval.crossval_run`): ``seeds`` runs with the fold's best setting, trained as
   the recipe says (the shipped configs: every non-test speaker, final weights), scored on the test fold.

The table has the paper's shape: per seed the test UAR is averaged over the folds, then mean ± sample std
and max over seeds (:func:`~.crossval.summarize`), next to the paper's RAVDESS figures. Runs at or below
chance are listed as collapsed.

Resumable: each study is an SQLite file (``<output_dir>/<model>/fold<f>/hpo/study.db``, continued until
``trials`` trials have finished) and each test run leaves a ``metrics.json`` marker
(``<output_dir>/<model>/fold<f>/test_trial<n>/fold<f>_seed<s>/``; the directory names the best trial, so
a longer search that finds another best setting gets fresh runs). ``jobs`` > 1 runs (model, fold) units in
that many processes, each with ``cores // jobs`` torch threads.

Search spaces (:data:`SEARCH_SPACES`): ``"paper"``, the paper's (learning rate log [3e-5, 2e-4], weight
decay log [2e-5, 2e-2], dropout [0.1, 0.5], T0 in {1, 2, 3, 5, 10} epochs, batch in {8, 16, 32, 64});
``"wide"``, the same with learning rate log [3e-5, 3e-2]: the shipped configs train at 1e-2, chosen on
EmoDB validation speakers where 1e-2 / 2e-2 beat 3e-3 and 4e-2 (BENCHMARKS.md section 3), 50x above the
paper's upper bound.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Optional

from .artifacts import write_json
from .config import TrainConfig, parse_config
from .crossval import chance_level, crossval_run, summarize
from .hpo import DEFAULT_SEARCH_SPACE

MODELS = ("lstm_sa_h32", "lstm_sa_h64", "lstm_sa_h128", "reslstm_sa_h32", "reslstm_sa_h64", "reslstm_sa_h128")
"""The six models of the paper, named after their recipe configs."""

PAPER_RESULTS: dict[str, dict[str, Any]] = {
    "lstm_sa_h32": {"name": "LSTM-SA-h32", "params": "10.6 k", "mean": 0.5352, "std": 0.0123, "max": 0.5547},
    "lstm_sa_h64": {"name": "LSTM-SA-h64", "params": "28.3 k", "mean": 0.5751, "std": 0.0108, "max": 0.5996},
    "lstm_sa_h128": {
        "name": "LSTM-SA-h128",
        "params": "91.6 k",
        "mean": 0.5895,
        "std": 0.0076,
        "max": 0.6022,
    },
    "reslstm_sa_h32": {
        "name": "ResLSTM-SA-h32",
        "params": "28.0 k",
        "mean": 0.6130,
        "std": 0.0111,
        "max": 0.6315,
    },
    "reslstm_sa_h64": {
        "name": "ResLSTM-SA-h64",
        "params": "46.8 k",
        "mean": 0.6232,
        "std": 0.0119,
        "max": 0.6517,
    },
    "reslstm_sa_h128": {
        "name": "ResLSTM-SA-h128",
        "params": "108.9 k",
        "mean": 0.6107,
        "std": 0.0134,
        "max": 0.6348,
    },
}
"""Paper 004's table: RAVDESS speech, 8 classes, 5 speaker folds, 100 TPE trials, 10 seeds, UAR."""

SEARCH_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": DEFAULT_SEARCH_SPACE,
    "wide": {
        **DEFAULT_SEARCH_SPACE,
        "learning_rate": {"type": "float", "low": 3e-5, "high": 3e-2, "log": True},
    },
}

CONFIG_DIR = Path(__file__).resolve().parents[2] / "recipes" / "configs"


@dataclasses.dataclass
class ReproduceSettings:
    """What one reproduction runs.

    Args:
        corpus, data_dir: the corpus (any name `hf_ser.data.load_corpus` knows) and where it lies.
        output_dir: everything is written here (studies, runs, ``reproduce.json``, ``reproduce.md``).
        models: config names of :data:`MODELS` to run.
        trials: finished Optuna trials per (model, test fold).
        seeds: test runs per (model, test fold) with the best setting (seeds ``seed``, ``seed + 1``, ...).
        folds: test folds to run (indices); `None` = all.
        n_folds: number of speaker folds; `None` = leave-one-speaker-out for EmoDB, 5 folds otherwise
            (the paper's protocol).
        jobs: parallel (model, fold) units, each with ``cores // jobs`` torch threads.
        search_space: ``"paper"`` or ``"wide"`` (:data:`SEARCH_SPACES`).
        seed: first seed (also the TPE sampler's).
        overrides: other recipe keys for every run (e.g. ``{"num_train_epochs": 1}`` for a smoke test).
        config_dir: where the model configs are (defaults to the repository's ``recipes/configs``).
    """

    corpus: str
    data_dir: str
    output_dir: str
    models: tuple[str, ...] = MODELS
    trials: int = 100
    seeds: int = 10
    folds: Optional[tuple[int, ...]] = None
    n_folds: Optional[int] = None
    jobs: int = 1
    search_space: str = "paper"
    seed: int = 42
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    config_dir: str = str(CONFIG_DIR)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise ValueError(f"Unknown model(s) {unknown}; choose from {list(MODELS)}.")
        if self.search_space not in SEARCH_SPACES:
            raise ValueError(
                f"`search_space` must be one of {list(SEARCH_SPACES)}, got {self.search_space!r}."
            )
        for name in ("trials", "seeds", "jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(self, name)!r}.")


def base_config(settings: ReproduceSettings, model: str) -> TrainConfig:
    """The model's recipe config on the settings' corpus, folds, seed and overrides."""
    n_folds = settings.n_folds
    if n_folds is None and settings.corpus != "emodb":
        n_folds = 5
    cfg = parse_config(["--config", str(Path(settings.config_dir) / f"{model}.yaml")])
    return cfg.replace(
        corpus=settings.corpus,
        data_dir=settings.data_dir,
        folds=n_folds,
        seed=settings.seed,
        disable_tqdm=True,
        **settings.overrides,
    )


def tuning_config(cfg: TrainConfig, settings: ReproduceSettings, fold: int, unit_dir: Path) -> TrainConfig:
    """The study's config: validation speakers held out (the next fold), scored every epoch."""
    return cfg.replace(
        fold=fold,
        use_validation=True,
        eval_strategy="epoch",
        n_trials=settings.trials,
        search_space=SEARCH_SPACES[settings.search_space],
        output_dir=str(unit_dir / "hpo"),
        test_time_speeds=None,  # validation metrics never use them; no test split while tuning
    )


def run_unit(settings: ReproduceSettings, model: str, fold: int, threads: int) -> dict[str, Any]:
    """Tune, then test, one (model, test fold); returns ``{"model", "fold", "best", "runs"}``."""
    import torch

    from .hpo import run_hpo
    from .preparation import compute_folds, load_dataset_for

    torch.set_num_threads(threads)
    cfg = base_config(settings, model)
    unit_dir = Path(settings.output_dir) / model / f"fold{fold:02d}"
    best = run_hpo(tuning_config(cfg, settings, fold, unit_dir))
    test_cfg = cfg.replace(
        output_dir=str(unit_dir / f"test_trial{best['best_trial']:03d}"),
        seeds=settings.seeds,
        **best["best_params"],
    )
    dataset = load_dataset_for(test_cfg)
    folds = compute_folds(test_cfg, dataset)
    runs = [crossval_run(test_cfg, dataset, folds, fold, index) for index in range(settings.seeds)]
    best_summary = {key: best[key] for key in ("best_value", "best_params", "best_trial", "n_complete")}
    return {"model": model, "fold": fold, "best": best_summary, "runs": runs}


def test_folds(settings: ReproduceSettings) -> tuple[list[int], Optional[float]]:
    """The test folds to run (checked against the corpus' folds) and the chance level of its classes."""
    from .preparation import compute_folds, load_dataset_for

    cfg = base_config(settings, settings.models[0])
    dataset = load_dataset_for(cfg)
    available = len(compute_folds(cfg, dataset))
    chosen = list(settings.folds) if settings.folds is not None else list(range(available))
    bad = [fold for fold in chosen if not 0 <= fold < available]
    if bad:
        raise ValueError(f"folds {bad} do not exist: {settings.corpus} has folds 0..{available - 1}.")
    return chosen, chance_level(cfg, dataset)


def threads_per_job(jobs: int) -> int:
    """Each job's share of the cores this process may use (at least one thread)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // jobs)


def run_units(settings: ReproduceSettings, folds: list[int]) -> list[dict[str, Any]]:
    """Every (model, fold) unit, in this process (``jobs`` 1) or in ``jobs`` spawned processes."""
    units = [(model, fold) for model in settings.models for fold in folds]
    threads = threads_per_job(settings.jobs)
    if settings.jobs == 1:
        return [run_unit(settings, model, fold, threads) for model, fold in units]
    with ProcessPoolExecutor(settings.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_unit, settings, model, fold, threads) for model, fold in units]
        return [future.result() for future in futures]


def parameter_count(settings: ReproduceSettings, model: str) -> int:
    """Trainable parameters of the model on the corpus' label set (the classifier depends on it)."""
    from .lora import count_parameters
    from .model_factory import build_model
    from .preparation import load_dataset_for, regression_targets

    cfg = base_config(settings, model)
    names = load_dataset_for(cfg).features["label"].names
    network, _ = build_model(cfg, dict(enumerate(names)), regression_targets(cfg))
    return count_parameters(network).trainable


def model_row(
    settings: ReproduceSettings, model: str, units: list[dict], n_folds: int, chance: Optional[float]
) -> dict:
    """One table row: our summary over the model's test runs, its best settings per fold, the paper's."""
    mine = [unit for unit in units if unit["model"] == model]
    runs = [run for unit in mine for run in unit["runs"]]
    summary = summarize(runs, "uar", n_folds, settings.seeds, chance)
    return {
        "model": model,
        "params": parameter_count(settings, model),
        "summary": summary,
        "best_per_fold": {str(unit["fold"]): unit["best"] for unit in mine},
        "paper": PAPER_RESULTS[model],
    }


def run_reproduce(settings: ReproduceSettings) -> dict[str, Any]:
    """Run (or resume) the whole protocol; write and return ``reproduce.json`` (``reproduce.md`` too)."""
    start = time.time()
    Path(settings.output_dir).mkdir(parents=True, exist_ok=True)
    folds, chance = test_folds(settings)
    units = run_units(settings, folds)
    result = {
        "settings": dataclasses.asdict(settings),
        "test_folds": folds,
        "chance": chance,
        "wall_time_s": round(time.time() - start, 1),
        "rows": [model_row(settings, model, units, len(folds), chance) for model in settings.models],
    }
    write_json(Path(settings.output_dir) / "reproduce.json", result)
    (Path(settings.output_dir) / "reproduce.md").write_text(reproduce_markdown(result))
    return result


def _params_k(count: int) -> str:
    return f"{count / 1000:.1f} k"


def reproduce_markdown(result: dict[str, Any]) -> str:
    """The paper's table (params, UAR mean ± std, max) with the paper's figures beside ours."""
    settings = result["settings"]
    lines = [
        f"# Paper 004 protocol on {settings['corpus']}",
        "",
        f"Test folds {result['test_folds']}; per (model, test fold) {settings['trials']} TPE trials "
        f"(search space `{settings['search_space']}`) scored on validation speakers inside the training "
        f"folds, then {settings['seeds']} seeds with the best setting. UAR per seed averaged over the test "
        f"folds; mean ± sample std and max over {_over(result)}. "
        f"Overrides: `{json.dumps(settings['overrides'])}`. "
        f"Wall time {result['wall_time_s'] / 60:.1f} min with {settings['jobs']} job(s).",
        "",
        "| model | params | UAR mean ± std | UAR max | collapsed runs | paper params | paper UAR mean ± std "
        "| paper UAR max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        ours, paper = row["summary"], row["paper"]
        lines.append(
            f"| {paper['name']} | {_params_k(row['params'])} | {ours['mean']:.4f} ± {ours['std']:.4f} "
            f"| {ours['max']:.4f} | {len(ours['collapsed'])}/{len(ours['runs'])} | {paper['params']} "
            f"| {paper['mean']:.4f} ± {paper['std']:.4f} | {paper['max']:.4f} |"
        )
    lines += ["", "Paper: RAVDESS speech (8 classes, 5 speaker folds, 100 trials, 10 seeds).", ""]
    lines += ["| model | test fold | best trial | validation UAR | best setting |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        for fold, best in row["best_per_fold"].items():
            setting = ", ".join(f"{k}={_short(v)}" for k, v in best["best_params"].items())
            name, value = row["paper"]["name"], best["best_value"]
            lines.append(f"| {name} | {fold} | {best['best_trial']} | {value:.4f} | {setting} |")
    return "\n".join(lines) + "\n"


def _over(result: dict[str, Any]) -> str:
    """What mean ± std run over: seeds, or the folds when there is one seed (:func:`summarize`'s rule)."""
    return result["rows"][0]["summary"]["over"] if result["rows"] else "seeds"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)

"""Hyper-parameter search with Optuna (TPE sampler, median pruning, SQLite study that survives interruption).

Each trial is a :func:`~.finetune.run_finetune` on the config's fold (training speakers only: the
objective is the *validation* metric, UAR or mean CCC; the test split is dropped before the trials, so
the test speakers stay unseen). Bad trials are
pruned from their intermediate validation scores. The study lives in ``<output_dir>/study.db``:
re-running the same command continues it (trials cut off by a kill are re-queued with the same
parameters) until ``n_trials`` trials have finished. The best setting is written as
``<output_dir>/best_config.yaml``, a complete recipe config that ``recipes/crossval.py --config`` runs.

The default search space is the ResLSTM-SA paper's (Krasnoproshin & Vashkevich): learning rate log
[3e-5, 2e-4], weight decay log [2e-5, 2e-2], dropout [0.1, 0.5], cosine warm-restart period T0 in
{1, 2, 3, 5, 10} epochs, batch size in {8, 16, 32, 64}. Keys are recipe config keys (``model.*`` for
model options); override it with the ``search_space`` config key.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .artifacts import write_json
from .config import TrainConfig
from .finetune import run_finetune, selection_metric
from .preparation import TrainingData, load_dataset_for, split_data

DEFAULT_SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"type": "float", "low": 3e-5, "high": 2e-4, "log": True},
    "weight_decay": {"type": "float", "low": 2e-5, "high": 2e-2, "log": True},
    "model.classifier_dropout": {"type": "float", "low": 0.1, "high": 0.5},
    "restart_period_epochs": {"type": "categorical", "choices": [1, 2, 3, 5, 10]},
    "per_device_train_batch_size": {"type": "categorical", "choices": [8, 16, 32, 64]},
}
SPACE_TYPES = ("float", "int", "categorical")


def check_search_space(space: dict[str, dict[str, Any]], cfg: TrainConfig) -> None:
    """Validate a search space before any trial: known config (and model) keys, known types, bounds."""
    from .model_factory import check_model_options

    probe = cfg
    for key, spec in space.items():
        if not isinstance(spec, dict) or spec.get("type") not in SPACE_TYPES:
            raise ValueError(f"search_space[{key!r}] needs type in {list(SPACE_TYPES)}, got {spec!r}.")
        if spec["type"] == "categorical" and not spec.get("choices"):
            raise ValueError(f"search_space[{key!r}] (categorical) needs a non-empty `choices` list.")
        if spec["type"] != "categorical" and ("low" not in spec or "high" not in spec):
            raise ValueError(f"search_space[{key!r}] ({spec['type']}) needs `low` and `high`.")
        sample = spec["choices"][0] if spec["type"] == "categorical" else spec["low"]
        probe = probe.replace(**{key: sample})  # raises for unknown keys or values of the wrong type
    check_model_options(probe)


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Draw one value per search-space key from an Optuna trial."""
    params = {}
    for key, spec in space.items():
        if spec["type"] == "float":
            params[key] = trial.suggest_float(
                key, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log"))
            )
        elif spec["type"] == "int":
            params[key] = trial.suggest_int(
                key, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log"))
            )
        else:
            params[key] = trial.suggest_categorical(key, list(spec["choices"]))
    return params


class OptunaPruningCallback(TrainerCallback):
    """Report each validation score to the trial; stop training when Optuna says the trial is bad."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.pruned = False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        value = (metrics or {}).get(f"eval_{self.metric}")
        if value is None:
            return
        self.trial.report(float(value), step=state.global_step)
        if self.trial.should_prune():
            self.pruned = True
            control.should_training_stop = True


def _requeue_interrupted(study: Any) -> int:
    """Trials left RUNNING by a killed process: mark them failed and queue their parameters again."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
    return len(stale)


def tuning_data(cfg: TrainConfig) -> TrainingData:
    """The fold's training and validation speakers only: the test split is dropped, so no trial ever
    predicts (let alone scores) a test speaker."""
    return dataclasses.replace(split_data(cfg, load_dataset_for(cfg)), tests={})


def run_hpo(cfg: TrainConfig) -> dict[str, Any]:
    """Run or continue the study; return ``{"metric", "best_value", "best_params", ...}``."""
    import optuna

    space = cfg.search_space if cfg.search_space is not None else DEFAULT_SEARCH_SPACE
    check_search_space(space, cfg)
    if not cfg.use_validation:
        raise ValueError("hpo optimises the validation metric: set use_validation: true.")
    from accelerate import PartialState

    if PartialState().num_processes > 1:
        raise ValueError("Run hpo in a single process (python recipes/hpo.py); trials are not distributed.")
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    data = tuning_data(cfg)
    metric = selection_metric(cfg.task)
    study = optuna.create_study(
        study_name="hf_ser",
        storage=f"sqlite:///{output_dir / 'study.db'}",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    requeued = _requeue_interrupted(study)
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished_states))
    print(
        f"hpo: {done} of {cfg.n_trials} trials finished earlier"
        + (f", {requeued} re-queued" if requeued else "")
    )

    def objective(trial: Any) -> float:
        params = suggest(trial, space)
        trial_dir = output_dir / f"trial_{trial.number:03d}"
        trial_cfg = cfg.replace(output_dir=str(trial_dir), resume=False, **params)
        pruning = OptunaPruningCallback(trial, metric)
        metrics = run_finetune(trial_cfg, data, callbacks=[pruning], write_outputs=False)
        shutil.rmtree(trial_dir, ignore_errors=True)
        trial.set_user_attr("validation", metrics.get("validation", {}))
        if pruning.pruned:
            raise optuna.TrialPruned()
        return float(metrics["validation"][metric])

    if cfg.n_trials > done:
        study.optimize(objective, n_trials=cfg.n_trials - done, catch=())
    return write_best(cfg, study, space, metric)


def write_best(cfg: TrainConfig, study: Any, space: dict, metric: str) -> dict[str, Any]:
    """Write ``best_config.yaml`` and ``hpo_summary.json``; return the summary."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"No hpo trial finished (states: {sorted({t.state.name for t in trials})}).")
    best = study.best_trial
    output_dir = Path(cfg.output_dir)
    best_cfg = cfg.replace(output_dir=str(output_dir / "best_crossval"), resume=False, **best.params)
    best_cfg.to_yaml(output_dir / "best_config.yaml")
    summary = {
        "metric": metric,
        "best_value": best.value,
        "best_params": best.params,
        "best_trial": best.number,
        "n_complete": len(complete),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        "search_space": space,
        "trials": [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params} for t in trials
        ],
    }
    write_json(output_dir / "hpo_summary.json", summary)
    print(
        f"hpo: best validation {metric} {best.value:.4f} (trial {best.number}) "
        f"-> {output_dir / 'best_config.yaml'}"
    )
    return summary

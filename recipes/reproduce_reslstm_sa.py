"""Paper 004's protocol (LSTM-SA / ResLSTM-SA, Optuna TPE then seeds) on any corpus, as one resumable command.

    python recipes/reproduce_reslstm_sa.py --corpus emodb --data_dir ../shared/data/emodb \
        --output_dir outputs/reproduce_emodb [--models lstm_sa_h32,reslstm_sa_h64] [--trials 100] \
        [--seeds 10] [--folds 0,1] [--jobs 2] [--search_space paper|wide]

Per (model, test fold): ``--trials`` TPE trials scored on validation speakers inside the training folds,
then ``--seeds`` runs with the best setting on the test fold. Writes ``reproduce.md`` (the paper's table
next to the paper's figures) and ``reproduce.json``; re-running the same command resumes. See
:mod:`hf_ser.training.reproduce` for the protocol.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from hf_ser.training.reproduce import MODELS, SEARCH_SPACES, ReproduceSettings, run_reproduce


def int_list(text: str) -> tuple[int, ...]:
    """``"0,1"`` -> ``(0, 1)``."""
    return tuple(int(part) for part in text.split(",") if part.strip())


def parse_overrides(pairs: list[str]) -> dict:
    """``["num_train_epochs=1", "max_samples=60"]`` -> ``{"num_train_epochs": 1, "max_samples": 60}``
    (values read as YAML scalars)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set needs KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--output_dir", default=None, help="default: outputs/reproduce_<corpus>")
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}"
    )
    parser.add_argument("--trials", type=int, default=100, help="TPE trials per (model, test fold)")
    parser.add_argument("--seeds", type=int, default=10, help="test runs per (model, test fold)")
    parser.add_argument(
        "--folds", type=int_list, default=None, help="test folds to run, e.g. 0,1 (default all)"
    )
    parser.add_argument(
        "--n_folds", type=int, default=None, help="speaker folds (default: LOSO on emodb, else 5)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="parallel (model, fold) units; threads = cores / jobs"
    )
    parser.add_argument("--search_space", choices=sorted(SEARCH_SPACES), default="paper")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config_dir", default=str(Path(__file__).resolve().parent / "configs"))
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="recipe key for every run"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    settings = ReproduceSettings(
        corpus=args.corpus,
        data_dir=args.data_dir,
        output_dir=args.output_dir or f"outputs/reproduce_{args.corpus}",
        models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
        trials=args.trials,
        seeds=args.seeds,
        folds=args.folds,
        n_folds=args.n_folds,
        jobs=args.jobs,
        search_space=args.search_space,
        seed=args.seed,
        overrides=parse_overrides(args.set),
        config_dir=args.config_dir,
    )
    result = run_reproduce(settings)
    print((Path(settings.output_dir) / "reproduce.md").read_text())
    return result


if __name__ == "__main__":
    main()

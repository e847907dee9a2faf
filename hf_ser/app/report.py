"""The ``hf-ser report`` command: evaluate a model on a corpus and write the full report.

``hf_ser/app/cli.py`` registers it with :func:`add_report_parser`; ``python -m hf_ser.app.report``
runs it on its own. Example::

    hf-ser report --corpus emodb --data-dir ../shared/data/emodb --perturb noise,telephone --out reports/emodb
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

__all__ = ["add_report_arguments", "add_report_parser", "main", "run_report"]

HELP = "Evaluate a model on a corpus: per-sex/per-speaker fairness, robustness; writes report.json/.md/.html."


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``report`` options to ``parser`` and set ``func=run_report``."""
    from ..evaluation.perturbations import PERTURBATION_FAMILIES

    parser.add_argument(
        "--model", default=None, help="Checkpoint directory or Hub id (default: the built-in model)."
    )
    parser.add_argument(
        "--corpus", required=True, help="Corpus name, as for hf_ser.data.load_corpus (e.g. emodb)."
    )
    parser.add_argument("--data-dir", required=True, help="Directory the corpus was unpacked to.")
    parser.add_argument(
        "--perturb",
        default=None,
        help=f"Comma-separated perturbation families or names ({', '.join(PERTURBATION_FAMILIES)}) "
        "or 'all'. "
        "Default: none.",
    )
    parser.add_argument("--limit", type=int, default=None, help="Evaluate a seeded random subset of N clips.")
    parser.add_argument(
        "--out", required=True, help="Output directory for report.json, report.md, report.html."
    )
    parser.add_argument(
        "--group-columns", default=None, help="Comma-separated columns (default: those present)."
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="Bootstrap replicates (0 = no intervals)."
    )
    parser.add_argument("--batch-size", type=int, default=16, help="Clips per pipeline call.")
    parser.add_argument("--seed", type=int, default=0, help="Seed for --limit, bootstrap and perturbations.")
    parser.add_argument("--title", default=None, help="Report title.")
    parser.set_defaults(func=run_report)
    return parser


def add_report_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on an ``argparse`` sub-command set (what ``hf_ser/app/cli.py`` calls)."""
    return add_report_arguments(subparsers.add_parser("report", help=HELP, description=HELP))


def _command_line(args: argparse.Namespace) -> str:
    """The ``hf-ser report`` call that reproduces this report (recorded in its metadata)."""
    words = ["hf-ser report"]
    for option in ("model", "corpus", "data_dir", "perturb", "limit", "group_columns", "bootstrap", "seed"):
        value = getattr(args, option)
        if value is not None:
            words.append(f"--{option.replace('_', '-')} {value}")
    return " ".join(words + [f"--out {args.out}"])


def run_report(args: argparse.Namespace) -> int:
    """Run the command described by parsed ``args``; prints where the report went. Returns 0."""
    from ..data import load_corpus
    from ..evaluation.evaluate import decode_audio_column, score_predictions
    from ..evaluation.perturbations import get_perturbations
    from ..evaluation.predictor import as_predictor
    from ..evaluation.report import write_report
    from ..evaluation.robustness import robustness_from_arrays

    perturbations = get_perturbations(args.perturb.split(",")) if args.perturb else []
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}.")
    dataset = load_corpus(args.corpus, args.data_dir)
    if args.limit is not None and args.limit < len(dataset):
        dataset = dataset.shuffle(seed=args.seed).select(range(args.limit))
    groups = args.group_columns.split(",") if args.group_columns else None
    predictor = as_predictor(args.model, batch_size=args.batch_size)
    arrays = decode_audio_column(dataset)
    predictions = predictor.predict(arrays, progress="evaluate")
    result = score_predictions(
        predictions, dataset, group_columns=groups, bootstrap=args.bootstrap, seed=args.seed
    )
    robustness = None
    if perturbations:
        robustness = robustness_from_arrays(predictor, arrays, dataset, result, perturbations, seed=args.seed)
    model_name = args.model or "built-in default model"
    meta = {
        "model": model_name,
        "corpus": args.corpus,
        "clips": f"{result.num_samples}" + (f" (seeded subset, --limit {args.limit})" if args.limit else ""),
        "command": _command_line(args),
    }
    written = write_report(
        args.out,
        result,
        robustness=robustness,
        title=args.title or f"{model_name} on {args.corpus}",
        meta=meta,
    )
    primary = result.primary_metric
    print(
        f"{primary} = {result.overall[primary]:.4f} on {result.num_samples} clips; "
        f"report: {written['markdown']}"
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Standalone entry point: ``python -m hf_ser.app.report --corpus ... --out ...``."""
    parser = add_report_arguments(argparse.ArgumentParser(prog="hf-ser report", description=HELP))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

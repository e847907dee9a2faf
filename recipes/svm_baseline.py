"""The standard SER baseline: openSMILE (or MFCC+chroma) functionals + standardisation + linear SVM.

    python recipes/svm_baseline.py --corpus emodb --data_dir ../shared/data/emodb --features egemaps
    python recipes/svm_baseline.py --corpus urdu --data_dir ../shared/data/urdu --features compare

C is chosen by an inner GroupKFold over the training speakers of each outer fold (leave-one-speaker-out
for EmoDB, 5 speaker folds otherwise; ``--n_folds`` to change). Writes ``svm_<features>.json`` and
``.md`` to ``--output_dir``; functionals are cached per file (``--cache_dir``, default
``<output_dir>/features``). openSMILE sets need ``pip install "hf_ser[opensmile]"``. See
:mod:`hf_ser.training.svm_baseline`.
"""

from __future__ import annotations

import argparse

from hf_ser.training.svm_baseline import FEATURES, run_svm_baseline


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--features", choices=FEATURES, default="egemaps")
    parser.add_argument("--output_dir", default=None, help="default: outputs/svm_<corpus>")
    parser.add_argument(
        "--n_folds", type=int, default=None, help="speaker folds (default: LOSO on emodb, else 5)"
    )
    parser.add_argument("--max_samples", type=int, default=None, help="stratified subset (quick runs)")
    parser.add_argument(
        "--cache_dir", default=None, help="per-file feature cache (default <output_dir>/features)"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    summary = run_svm_baseline(
        args.corpus,
        args.data_dir,
        features=args.features,
        output_dir=args.output_dir or f"outputs/svm_{args.corpus}",
        n_folds=args.n_folds,
        max_samples=args.max_samples,
        cache_dir=args.cache_dir,
    )
    print(
        f"{args.corpus} {args.features}: UAR {summary['mean']:.4f} ± {summary['std']:.4f} over "
        f"{len(summary['folds'])} folds ({summary['protocol']}), {summary['wall_time_s']:.0f} s"
    )
    return summary


if __name__ == "__main__":
    main()

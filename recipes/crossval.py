"""Cross-validate a recipe config over speaker-independent folds x seeds (resumable).

    python recipes/crossval.py --config recipes/configs/wav2vec2_base_attentive.yaml \
        --corpus emodb --data_dir ../shared/data/emodb --output_dir outputs/cv --folds 5 --seeds 3

Omit ``--folds`` for leave-one-speaker-out. Writes ``<output_dir>/summary.json`` and ``summary.md``;
re-running the same command skips finished runs.
"""

from hf_ser.training import parse_config, run_crossval


def main(argv=None):
    return run_crossval(parse_config(argv, recipe="crossval"))


if __name__ == "__main__":
    main()

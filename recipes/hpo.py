"""Optuna TPE search over a recipe config (pruning, SQLite study that survives interruption).

    python recipes/hpo.py --config recipes/configs/reslstm_sa_h64.yaml --corpus emodb \
        --data_dir ../shared/data/emodb --output_dir outputs/hpo --n_trials 100 --use_validation true

Writes ``<output_dir>/best_config.yaml`` (run it with recipes/crossval.py --config) and ``hpo_summary.json``.
"""

from hf_ser.training import parse_config, run_hpo


def main(argv=None):
    return run_hpo(parse_config(argv, recipe="hpo"))


if __name__ == "__main__":
    main()

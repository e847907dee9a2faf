"""Distil a teacher (any hf_ser checkpoint, or an ensemble of them) into a small student.

    python recipes/distill.py --config recipes/configs/wav2small_distill.yaml \
        --teacher outputs/w2v2_emodb --data_dir ../shared/data/emodb --output_dir outputs/wav2small_emodb
    accelerate launch recipes/distill.py ...same flags...

The teacher labels the training clips once (cached in ``<output_dir>/teacher_cache/``) or every batch
(``--teacher_cache false``); ``--unlabelled_data_dir DIR`` adds audio without labels. Every finetune key
is a flag too; ``--help`` lists them.
"""

from hf_ser.training import parse_config
from hf_ser.training.distill import DISTILL_DEFAULTS, run_distill


def main(argv=None):
    return run_distill(parse_config(argv, defaults=DISTILL_DEFAULTS, recipe="distill"))


if __name__ == "__main__":
    main()

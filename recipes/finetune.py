"""Fine-tune one speech emotion recognition model (SSL backbone, LSTM-SA or student).

    python recipes/finetune.py --config recipes/configs/wav2vec2_base_attentive.yaml \
        --corpus emodb --data_dir ../shared/data/emodb --output_dir outputs/w2v2_emodb
    accelerate launch recipes/finetune.py ...same flags...      # multi-GPU / multi-node / CPU processes

Every key of the YAML is also a flag (``--learning_rate 1e-4``, ``--model.layer_weighting weighted``);
``--help`` lists them. ``--resume`` continues a killed run from its last checkpoint.
"""

from hf_ser.training import parse_config, run_finetune


def main(argv=None):
    return run_finetune(parse_config(argv, recipe="train"))


if __name__ == "__main__":
    main()

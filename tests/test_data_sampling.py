"""Class-balanced sampling: equal class frequencies in expectation, reproducible from the seed, wired into
SERTrainer through the `balanced_sampling` config key."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from hf_ser.data.sampling import class_balanced_sampler, class_balanced_weights

LABELS = [0] * 80 + [1] * 15 + [2] * 5 + [-1] * 3  # imbalanced, with unlabelled clips


def test_weights_are_inverse_class_counts_and_zero_for_unlabelled():
    weights = class_balanced_weights(LABELS)
    assert weights[0] == pytest.approx(1 / 80) and weights[80] == pytest.approx(1 / 15)
    assert weights[95] == pytest.approx(1 / 5) and weights[-1] == 0.0
    per_class = {label: weights[np.asarray(LABELS) == label].sum() for label in (0, 1, 2)}
    assert all(total == pytest.approx(1.0) for total in per_class.values())


def test_sampler_balances_classes_and_never_draws_unlabelled_clips():
    draws = [LABELS[i] for i in class_balanced_sampler(LABELS, seed=0, num_samples=6000)]
    counts = Counter(draws)
    assert -1 not in counts
    assert all(abs(counts[label] / 6000 - 1 / 3) < 0.03 for label in (0, 1, 2))


def test_sampler_is_deterministic_from_its_seed():
    assert list(class_balanced_sampler(LABELS, seed=7)) == list(class_balanced_sampler(LABELS, seed=7))
    assert list(class_balanced_sampler(LABELS, seed=7)) != list(class_balanced_sampler(LABELS, seed=8))
    first = class_balanced_sampler(LABELS, seed=7)
    assert list(first) != list(first)  # a new order every epoch, the same sequence of epochs per seed


def test_all_unlabelled_is_an_error():
    with pytest.raises(ValueError, match="labelled clips"):
        class_balanced_weights([-1, -1])


@pytest.mark.parametrize("balanced", [True, False])
def test_trainer_uses_the_balanced_sampler_only_when_asked(balanced, tmp_path):
    import datasets
    from torch.utils.data import WeightedRandomSampler

    from hf_ser.models import LSTMSAConfig, LSTMSAForAudioClassification
    from hf_ser.training.trainer import SERTrainer, SERTrainingArguments

    model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=4, num_labels=3))
    args = SERTrainingArguments(output_dir=str(tmp_path), seed=3, balanced_sampling=balanced, use_cpu=True)
    train = datasets.Dataset.from_dict({"label": [0, 0, 0, 1, 2], "x": [1, 2, 3, 4, 5]})
    sampler = SERTrainer(model=model, args=args, train_dataset=train)._get_train_sampler()
    assert isinstance(sampler, WeightedRandomSampler) == balanced
    if balanced:
        assert list(sampler) == list(class_balanced_sampler([0, 0, 0, 1, 2], seed=3))


def test_balanced_sampling_config_key_is_validated():
    from hf_ser.training import TrainConfig, build_training_arguments

    cfg = TrainConfig(balanced_sampling=True, output_dir="unused")
    assert build_training_arguments(cfg, has_validation=False, train_size=10).balanced_sampling
    with pytest.raises(ValueError, match="task 'regression'"):
        TrainConfig(balanced_sampling=True, task="regression")
    with pytest.raises(ValueError, match="over-correct"):
        TrainConfig(balanced_sampling=True, class_weights=True)


def test_early_stopping_without_validation_speakers_warns():
    from hf_ser.training import TrainConfig

    with pytest.warns(UserWarning, match="no effect without validation speakers"):
        TrainConfig(early_stopping_patience=3, use_validation=False)

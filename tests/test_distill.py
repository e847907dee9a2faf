"""Distillation: KD losses, teacher labelling with a cache, and an end-to-end student run on real clips."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from transformers import TrainingArguments, Wav2Vec2FeatureExtractor

from hf_ser import SERModelOutput, Wav2SmallConfig, Wav2SmallForAudioClassification
from hf_ser.data import SERDataCollator
from hf_ser.training.trainer_distillation import (
    DistillationCollator,
    DistillationLoss,
    DistillationTrainer,
    TeacherTargets,
    add_teacher_columns,
    check_teacher_student,
    kd_classification_loss,
    label_with_teacher,
)

STUDENT_EXTRACTOR = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)


def student_for(teacher, seed: int = 0) -> Wav2SmallForAudioClassification:
    torch.manual_seed(seed)
    config = Wav2SmallConfig(
        task="multitask",
        id2label=dict(teacher.config.id2label),
        conv_channels=[8, 8, 16, 16],
        hidden_size=32,
        classifier_dropout=0.0,
    )
    return Wav2SmallForAudioClassification(config)


def test_kd_classification_loss_properties():
    logits = torch.randn(3, 5)
    assert kd_classification_loss(logits, logits).abs().item() < 1e-6
    other = torch.randn(3, 5)
    assert kd_classification_loss(logits, other).item() > 0
    kl_t1 = torch.nn.functional.kl_div(
        logits.log_softmax(-1), other.log_softmax(-1), log_target=True, reduction="batchmean"
    )
    torch.testing.assert_close(kd_classification_loss(logits, other, temperature=1.0), kl_t1)
    with pytest.raises(ValueError, match="same shape"):
        kd_classification_loss(logits, torch.randn(3, 4))


def test_distillation_loss_mixing_and_errors():
    class_logits, regression = torch.randn(2, 4), torch.randn(2, 3)
    output = SERModelOutput(loss=torch.tensor(2.0), logits=class_logits, regression=regression)
    teacher_only = DistillationLoss(alpha=1.0)(
        output, teacher_logits=class_logits, teacher_regression=regression
    )
    assert teacher_only.abs().item() < 1e-6
    mixed = DistillationLoss(alpha=0.25)(output, teacher_logits=class_logits, teacher_regression=regression)
    assert mixed.item() == pytest.approx(0.75 * 2.0, abs=1e-5)
    with pytest.raises(ValueError, match="pass labels"):
        DistillationLoss(alpha=0.5)(SERModelOutput(logits=class_logits), teacher_logits=class_logits)
    with pytest.raises(ValueError, match="no regression head"):
        DistillationLoss()(SERModelOutput(logits=class_logits), teacher_regression=regression)
    with pytest.raises(ValueError, match="'l1'.*ccc, mse"):
        DistillationLoss(regression_loss="l1")


def test_label_with_teacher_batches_and_cache(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    teacher = tiny_ser_model(task="multitask")
    cache = tmp_path / "teacher.npz"
    targets = label_with_teacher(teacher, feature_extractor, emodb_clips, batch_size=3, cache_path=cache)
    assert targets.logits.shape == (4, 4)
    assert targets.regression.shape == (4, 3)
    assert len(targets) == 4
    with torch.no_grad():
        alone = teacher(
            **feature_extractor(
                emodb_clips[3], sampling_rate=16000, return_attention_mask=True, return_tensors="pt"
            )
        )
    np.testing.assert_allclose(targets.logits[3], alone.logits[0].numpy(), atol=1e-5)

    written = cache.stat().st_mtime_ns
    again = label_with_teacher(teacher, feature_extractor, emodb_clips, batch_size=2, cache_path=cache)
    assert cache.stat().st_mtime_ns == written  # served from the cache
    np.testing.assert_array_equal(again.logits, targets.logits)
    other_teacher = tiny_ser_model(task="multitask", seed=1)
    relabelled = label_with_teacher(other_teacher, feature_extractor, emodb_clips, cache_path=cache)
    assert not np.allclose(relabelled.logits, targets.logits)
    assert TeacherTargets.load(cache)[0].logits.shape == (4, 4)


def test_check_teacher_student(tiny_ser_model):
    teacher = tiny_ser_model(task="multitask")
    check_teacher_student(teacher.config, student_for(teacher).config)
    with pytest.raises(ValueError, match="differ from student classes"):
        check_teacher_student(teacher.config, Wav2SmallConfig(task="classification", num_labels=3))
    with pytest.raises(ValueError, match="share no output"):
        check_teacher_student(
            tiny_ser_model(task="regression").config, Wav2SmallConfig(task="classification", num_labels=4)
        )


def test_student_learns_teacher_targets_in_a_loop(tiny_ser_model, feature_extractor, emodb_clips):
    teacher = tiny_ser_model(task="multitask")
    targets = label_with_teacher(teacher, feature_extractor, emodb_clips)
    student = student_for(teacher).train()
    inputs = STUDENT_EXTRACTOR(emodb_clips, sampling_rate=16000, padding=True, return_tensors="pt")
    teacher_logits = torch.from_numpy(targets.logits) * 50  # sharpen the tiny teacher's near-uniform logits
    teacher_regression = torch.from_numpy(targets.regression) * 50
    criterion = DistillationLoss(temperature=2.0, regression_loss="mse", alpha=1.0)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        optimizer.zero_grad()
        output = student(**inputs)
        loss = criterion(output, teacher_logits, teacher_regression)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_distillation_trainer_end_to_end(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    teacher = tiny_ser_model(task="multitask")
    dataset = datasets.Dataset.from_dict(
        {
            "audio": [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips],
            "label": [0, 1, 2, 3],
        }
    )
    targets = label_with_teacher(teacher, feature_extractor, dataset, cache_path=tmp_path / "cache.npz")
    targets = TeacherTargets(logits=targets.logits * 50, regression=targets.regression * 50)
    train = add_teacher_columns(dataset, targets)
    assert train.column_names == ["audio", "label", "teacher_logits", "teacher_regression"]
    student = student_for(teacher)
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        max_steps=12,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        lr_scheduler_type="constant",
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
    )
    trainer = DistillationTrainer(
        model=student,
        args=args,
        train_dataset=train,
        data_collator=DistillationCollator(SERDataCollator(STUDENT_EXTRACTOR)),
        distillation=DistillationLoss(regression_loss="mse"),
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 12
    assert losses[-1] < 0.5 * losses[0]

"""End-to-end tests of recipes/finetune.py, crossval.py and hpo.py on a tiny random backbone + real audio.

The backbone is a 1-layer wav2vec2 (hidden 16) saved to a temporary directory and loaded through the
real ``from_pretrained`` path (``--backbone DIR``). Audio is real EmoDB speech. Two tests start real
processes and are marked ``slow`` (they still run): the kill -9 / ``--resume`` test and the
two-process ``accelerate launch`` (CPU, gloo) test.

EmoDB has no dimensional labels or transcripts, so regression and CTC tests use a tiny corpus in the
published IEMOCAP layout built from real EmoDB clips, with SYNTHETIC arousal/dominance/valence values
fixed per emotion class (:data:`SYNTHETIC_ADV`) and the EmoDB sentences as transcripts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
EMODB = DATA_DIR / "emodb"

# Small, fast runs: 16 clips, 4 speaker folds, 1 s crops, batch 4, a few steps.
FAST_SETTINGS = {
    "corpus": "emodb", "data_dir": str(EMODB), "max_samples": 16, "folds": 4,
    "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8, "max_train_seconds": 1,
    "max_eval_seconds": 1, "logging_steps": 1, "disable_tqdm": "true",
}  # fmt: skip


def flags(settings: dict | None = None, **changes) -> list[str]:
    """Command-line flags for a fast run: FAST_SETTINGS updated by ``settings`` / ``changes`` (None drops a
    flag; ``settings`` allows dotted keys such as ``model.classifier_dropout``)."""
    merged = {**FAST_SETTINGS, **(settings or {}), **changes}
    return [item for key, value in merged.items() if value is not None for item in (f"--{key}", str(value))]


def config(name: str) -> str:
    return str(REPO / "recipes" / "configs" / f"{name}.yaml")


# SYNTHETIC (valence, arousal, dominance) per IEMOCAP class code, for the regression tests only.
SYNTHETIC_ADV = {
    "ang": (1.5, 4.5, 4.0),
    "hap": (4.5, 4.0, 3.5),
    "neu": (3.0, 2.5, 3.0),
    "sad": (1.5, 1.5, 2.0),
}
EMODB_LETTER = {"ang": "W", "hap": "F", "neu": "N", "sad": "T"}
EMODB_TEXT = {
    "a01": "der lappen liegt auf dem eisschrank",
    "a02": "das will sie am mittwoch abgeben",
    "a04": "heute abend könnte ich es ihm sagen",
    "a05": "das schwarze stück papier befindet sich da oben",
    "a07": "in sieben stunden wird es soweit sein",
    "b01": "was sind denn das für tüten",
    "b02": "sie haben es gerade hochgetragen",
    "b03": "an den wochenenden bin ich nach hause gefahren",
    "b09": "ich will das eben wegbringen",
    "b10": "die wird auf dem platz sein",
}


def run_recipe(name: str, argv: list[str]):
    """Run recipes/<name>.py's main() in this process (imports are paid once for the whole module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory) -> str:
    """A 1-layer, hidden-16 random wav2vec2 (100 frames/s), saved and loaded via from_pretrained."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16, 16),
        conv_kernel=(10, 4, 4),
        conv_stride=(5, 4, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        layerdrop=0.0,
        mask_time_prob=0.0,
        vocab_size=8,
    )
    path = tmp_path_factory.mktemp("tiny") / "wav2vec2"
    Wav2Vec2Model(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def iemocap_like(tmp_path_factory) -> Path:
    """4 speakers x 4 classes in the IEMOCAP layout, audio = 1 s of real EmoDB clips (16 kHz WAV),
    SYNTHETIC A/D/V per class, EmoDB sentences as transcripts."""
    root = tmp_path_factory.mktemp("iemocap")
    files = sorted(p.name for p in EMODB.glob("*.flac"))
    used: set[str] = set()
    for session in (1, 2):
        dialog = f"Ses0{session}F_impro01"
        evaluation, transcript = [], []
        for sex in ("F", "M"):
            for turn_index, (code, letter) in enumerate(EMODB_LETTER.items()):
                name = next(f for f in files if f[5] == letter and f not in used)
                used.add(name)
                audio, rate = sf.read(str(EMODB / name), dtype="float32")
                audio = soxr.resample(audio, rate, 16000)[:16000]
                turn = f"{dialog}_{sex}{turn_index:03d}"
                wav = root / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn}.wav"
                wav.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(wav), audio, 16000)
                v, a, d = SYNTHETIC_ADV[code]
                evaluation.append(f"[1.0000 - 2.0000]\t{turn}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
                transcript.append(f"{turn} [001.0000-002.0000]: {EMODB_TEXT[name[2:5]]}")
        for folder, lines in (("EmoEvaluation", evaluation), ("transcriptions", transcript)):
            path = root / f"Session{session}" / "dialog" / folder / f"{dialog}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    return root


def test_finetune_categorical_emodb_writes_everything_inside_output_dir(tiny_backbone, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    import hf_ser  # noqa: F401  (registers the Auto classes)
    from hf_ser.cards import validate_model_card
    from hf_ser.training import parse_config

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    results = run_recipe("finetune", flags(
        {"backbone_config.mask_time_prob": 0.05},
        backbone=tiny_backbone, output_dir=out, max_steps=4, class_weights="true", freeze_backbone_steps=2,
        backbone_learning_rate=1e-5, eval_strategy="steps", eval_steps=2, early_stopping_patience=3,
    ))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "a run wrote outside its output_dir"
    for name in ("model.safetensors", "config.json", "preprocessor_config.json", "metrics.json",
                 "confusion_matrix.png", "train_config.yaml", "README.md", "card_data.json"):  # fmt: skip
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test"}
    assert 0.0 <= metrics["test"]["uar"] <= 1.0
    assert results["test"]["uar"] == metrics["test"]["uar"]
    # Per-group test figures (metrics.json and the card): clip counts add up to the test split.
    by_sex, by_speaker = metrics["test"]["by_sex"], metrics["test"]["by_speaker"]
    assert set(by_sex) <= {"female", "male"}
    assert all(0.0 <= g["uar"] <= 1.0 for g in by_sex.values())
    test_size = json.loads((out / "card_data.json").read_text())["split_sizes"]["test"]
    assert sum(g["n"] for g in by_sex.values()) == sum(g["n"] for g in by_speaker.values()) == test_size
    card = (out / "README.md").read_text()
    validate_model_card(card)  # offline: ModelCardData, model-index schema, hf_ser fields
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "hf_ser"
    assert meta["language"] == ["de"]
    assert "base_model" not in meta
    (index,) = meta["model-index"]
    reported = {
        (r["dataset"]["split"], m["type"]): m["value"] for r in index["results"] for m in r["metrics"]
    }
    assert reported[("test", "recall")] == pytest.approx(metrics["test"]["uar"], abs=1e-4)
    assert re.search(r"\*\*Protocol:\*\* 4 speaker-disjoint folds, test fold 0, validation = next fold", card)
    assert re.search(
        r"\| EmoDB \(Berlin Database of Emotional Speech\) \| test \| UAR .* \| \d\.\d{4} \|", card
    )
    assert re.search(r"## Limitations\n\n(- .+\n)+", card)
    assert f"The test split has {test_size} clips" in card
    sex_table = re.search(
        r"### Results per sex\n\n\| sex \| clips \| UAR [^\n]*\n\|(---\|)+\n((\|.*\n)+)", card
    )
    assert sex_table
    assert len(sex_table.group(2).strip().splitlines()) == len(by_sex)
    assert "### Results per speaker" in card
    model = AutoModelForAudioClassification.from_pretrained(out)
    assert model.config.classification_loss == "weighted_ce"
    assert len(model.config.class_weights) == 7
    assert model.config.backbone_config.mask_time_prob == 0.05
    assert AutoFeatureExtractor.from_pretrained(out).return_attention_mask
    assert parse_config(["--config", str(out / "train_config.yaml")]).max_steps == 4  # re-runnable config
    # freeze_backbone_steps=2: the backbone is untouched at step 2 (checkpoint-2) and trained by step 4.
    original = load_file(str(Path(tiny_backbone) / "model.safetensors"))
    at_step_2 = load_file(str(out / "checkpoint-2" / "model.safetensors"))
    at_step_4 = load_file(str(out / "checkpoint-4" / "model.safetensors"))
    name = "encoder.layers.0.attention.q_proj.weight"
    assert torch.equal(original[name], at_step_2[f"backbone.{name}"])
    assert not torch.equal(at_step_2["classifier.out_proj.weight"], at_step_4["classifier.out_proj.weight"])
    assert not torch.equal(original[name], at_step_4[f"backbone.{name}"])


def test_finetune_lora_with_augmentation_saves_adapter_and_merged_model(tiny_backbone, tmp_path):
    from transformers import AutoModelForAudioClassification

    import hf_ser  # noqa: F401

    out = tmp_path / "lora"
    run_recipe(
        "finetune",
        [
            "--config",
            config("hubert_lora"),
            *flags(backbone=tiny_backbone, output_dir=out, max_steps=2, lora_r=2, augment="light"),
        ],
    )
    assert (out / "lora_adapter" / "adapter_model.safetensors").is_file()
    model = AutoModelForAudioClassification.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert "- **LoRA:** r=2, alpha=" in (out / "README.md").read_text()


def test_regression_ccc_on_dimensional_labels(tiny_backbone, iemocap_like, tmp_path):
    out = tmp_path / "adv"
    results = run_recipe("finetune", ["--config", config("msp_podcast_adv_ccc"), *flags(
        backbone=tiny_backbone, corpus="iemocap", data_dir=iemocap_like, output_dir=out, max_steps=2,
        protocol="speaker_folds", group="speaker", eval_strategy="epoch",
    )])  # fmt: skip
    assert {"ccc", "ccc_arousal", "ccc_valence", "ccc_dominance"} <= set(results["test"])
    assert set(results["test"]["by_sex"]) <= {"female", "male"}  # per group: mean CCC and clips
    assert all(set(group) == {"n", "ccc"} for group in results["test"]["by_speaker"].values())
    assert (out / "regression_scatter.png").is_file()
    assert json.loads((out / "config.json").read_text())["task"] == "regression"


def test_multitask_ctc_vocab_and_head_saved(tiny_backbone, iemocap_like, tmp_path):
    import torch
    from transformers import AutoModelForAudioClassification, Wav2Vec2FeatureExtractor

    from hf_ser.training import transcribe

    out = tmp_path / "ctc"
    results = run_recipe("finetune", ["--config", config("ctc_multitask"), *flags(
        backbone=tiny_backbone, corpus="iemocap", group="speaker", data_dir=iemocap_like, output_dir=out,
        max_steps=2, max_train_seconds=None,  # no crop: the transcript stays aligned with the audio
    )])  # fmt: skip
    assert "uar" in results["test"]
    saved = json.loads((out / "config.json").read_text())
    vocab = saved["ctc_vocab"]  # the vocabulary lives in config.json, nowhere else
    assert vocab[:2] == ["<blank>", "<unk>"]
    assert "|" in vocab
    assert "ü" in vocab
    assert saved["ctc_vocab_size"] == len(vocab)
    assert saved["ctc_alpha"] == 0.1
    assert not (out / "ctc_vocab.json").exists()
    # Plain from_pretrained restores the head (no hooks, no extra loader).
    model = AutoModelForAudioClassification.from_pretrained(out).eval()
    assert model.ctc_head is not None
    assert model.ctc_head.proj.out_features == len(vocab)
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)
    clips = [np.zeros(8000, np.float32), np.ones(16000, np.float32) * 0.1]
    inputs = dict(
        extractor(clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt")
    )
    texts = transcribe(model, inputs)
    assert len(texts) == 2
    assert all(isinstance(t, str) for t in texts)
    with torch.no_grad():  # the head adds alpha * CTC to the loss when ctc_labels are given
        plain = model(**inputs, labels=torch.tensor([0, 1])).loss
        with_ctc = model(
            **inputs, labels=torch.tensor([0, 1]), ctc_labels=torch.tensor([[2, 3], [3, -100]])
        ).loss
    assert with_ctc > plain


def test_ctc_vocab_collator_and_greedy_transcribe(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    import itertools

    import torch

    from hf_ser import SERModelForAudioClassification
    from hf_ser.data import SERDataCollator
    from hf_ser.training import CharVocab, CTCLabelCollator, transcribe

    vocab = CharVocab.from_texts(["Ja  genau", None, "nein"])
    assert vocab.tokens == ["<blank>", "<unk>", "a", "e", "g", "i", "j", "n", "u", "|"]
    assert vocab.encode("Nein ja?") == [7, 3, 5, 7, 9, 6, 2, 1]
    assert vocab.encode(None) == []
    assert vocab.decode(vocab.encode("Nein ja?")) == "nein ja"
    assert vocab.decode([0, 7, 7, 0, 7, 3, 3, 9, 9, 6], collapse=True) == "nne j"
    rows = [
        {"audio": {"array": clip, "sampling_rate": 16000}, "label": 0, "text": text}
        for clip, text in zip(emodb_clips[:3], ["ja", None, "nein ja"], strict=True)
    ]
    batch = CTCLabelCollator(SERDataCollator(feature_extractor), vocab)(rows)
    assert batch["ctc_labels"].tolist() == [
        [6, 2, -100, -100, -100, -100, -100],
        [-100] * 7,
        [7, 3, 5, 7, 9, 6, 2],
    ]
    # Greedy decoding of a reloaded checkpoint = argmax over its real frames, repeats merged, blanks dropped.
    tiny_ser_model(pooling="mean", ctc_vocab=vocab.tokens, seed=5).save_pretrained(tmp_path)
    model = SERModelForAudioClassification.from_pretrained(tmp_path).eval()
    inputs = {key: value for key, value in batch.items() if key in ("input_values", "attention_mask")}
    with torch.no_grad():
        ids = model(**inputs).ctc_logits.argmax(-1)
    lengths = model.backbone._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))
    expected = [
        "".join(
            " " if vocab.tokens[i] == "|" else vocab.tokens[i]
            for i, _ in itertools.groupby(row[:n].tolist())
            if i not in (0, 1)
        )
        for row, n in zip(ids, lengths, strict=True)
    ]
    assert transcribe(model, inputs) == expected


def test_multitask_emotion_and_dimensions(tiny_backbone, iemocap_like, tmp_path):
    results = run_recipe("finetune", ["--config", config("multitask"), *flags(
        backbone=tiny_backbone, corpus="iemocap", group="speaker", data_dir=iemocap_like,
        output_dir=tmp_path / "mt", max_steps=2, gradient_accumulation_steps=2,
    )])  # fmt: skip
    assert {"uar", "ccc", "ccc_valence"} <= set(results["test"])
    assert {"uar", "ccc"} <= set(results["validation"])


def test_crossval_summary_and_resume(tiny_backbone, tmp_path, capsys):
    from hf_ser.cards import validate_model_card

    out = tmp_path / "cv"
    argv = flags(backbone=tiny_backbone, output_dir=out, max_steps=2, seeds=2, folds=2,
                 use_validation="false", save_model="false")  # fmt: skip
    summary = run_recipe("crossval", argv)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["metric"] == "uar"
    assert len(on_disk["runs"]) == 4
    assert on_disk["complete"]
    assert on_disk["over"] == "seeds"
    assert on_disk["max"] >= on_disk["mean"] >= 0
    assert summary["mean"] == pytest.approx(on_disk["mean"])
    assert "| model | UAR mean ± std | UAR max |" in (out / "summary.md").read_text()
    # The crossval card: one row per run, and the summary's mean ± std (sample std over the 2 seeds).
    seed_means = [np.mean([r["value"] for r in on_disk["runs"] if r["seed"] == s]) for s in (42, 43)]
    assert on_disk["std"] == pytest.approx(np.std(seed_means, ddof=1))
    card = (out / "README.md").read_text()
    validate_model_card(card)
    mean_std = f"{on_disk['mean']:.4f} ± {on_disk['std']:.4f}"
    assert re.search(
        rf"\| UAR \(unweighted average recall\) \| {mean_std} \| [\d.]+ \| [\d.]+ \| 2 seeds \|", card
    )
    assert "### Cross-validation (4 runs)" in card
    assert "### Results per speaker" in card
    assert not list(out.glob("*/checkpoint-*"))
    assert not list(out.glob("*/model.safetensors"))
    # "Interrupt": one run lost its results; re-running only redoes that run.
    (out / "fold01_seed1" / "metrics.json").unlink()
    capsys.readouterr()
    run_recipe("crossval", argv)
    log = capsys.readouterr().out
    assert log.count("finished earlier, skipped") == 3
    assert "fold 2/2, seed 43" in log
    assert json.loads((out / "summary.json").read_text())["complete"]


def test_summarize_reports_sample_std_like_the_model_card():
    from hf_ser.cards import SERCardData
    from hf_ser.training import summarize

    values = {(0, 42): 0.5, (1, 42): 0.7, (0, 43): 0.4, (1, 43): 0.9, (0, 44): 0.6, (1, 44): 0.6}
    runs = [
        {
            "fold": fold,
            "seed": seed,
            "value": value,
            "test_split": "test",
            "metrics": {"test": {"uar": value}},
        }
        for (fold, seed), value in values.items()
    ]
    summary = summarize(runs, "uar", n_folds=2, n_seeds=3)
    assert summary["over"] == "seeds"
    assert summary["mean"] == pytest.approx(0.6166667, abs=1e-6)
    assert summary["std"] == pytest.approx(np.std([0.6, 0.65, 0.6], ddof=1))  # fold means per seed
    assert summary["per_fold"]["1"]["std"] == pytest.approx(np.std([0.7, 0.9, 0.6], ddof=1))
    card = SERCardData()
    for run in runs:
        card.add_fold_result(run["metrics"]["test"], fold=run["fold"], seed=run["seed"])
    assert card.fold_summary()["uar"]["std"] == pytest.approx(summary["std"], abs=1e-6)
    one = summarize(runs[:1], "uar", n_folds=1, n_seeds=1)
    assert (one["mean"], one["std"], one["per_fold"]["0"]["std"]) == (0.5, 0.0, 0.0)


def test_hpo_two_trials_resumable_and_best_config_runs_in_crossval(tiny_backbone, tmp_path):
    import optuna

    from hf_ser.training import parse_config

    out = tmp_path / "hpo"
    argv = flags(
        backbone=tiny_backbone, output_dir=out, max_steps=2, eval_strategy="steps", eval_steps=1, n_trials=2
    )
    # A previous process died inside a trial: the study holds a RUNNING trial.
    out.mkdir()
    study = optuna.create_study(
        study_name="hf_ser", storage=f"sqlite:///{out / 'study.db'}", direction="maximize"
    )
    stale = study.ask({"learning_rate": optuna.distributions.FloatDistribution(3e-5, 2e-4, log=True)})
    summary = run_recipe("hpo", argv)
    assert summary["n_complete"] + summary["n_pruned"] == 2
    assert summary["metric"] == "uar"
    states = [t["state"] for t in summary["trials"]]
    assert states[0] == "FAIL"
    assert len(states) == 3
    # the stale trial is marked failed and its parameters are tried again by the next trial
    assert summary["trials"][1]["params"]["learning_rate"] == pytest.approx(stale.params["learning_rate"])
    best = parse_config(["--config", str(out / "best_config.yaml")])
    assert best.learning_rate == pytest.approx(summary["best_params"]["learning_rate"])
    assert best.restart_period_epochs in (1, 2, 3, 5, 10)
    assert best.output_dir.endswith("best_crossval")
    again = run_recipe("hpo", argv)  # finished study: nothing re-run
    assert len(again["trials"]) == 3


def test_trainer_parameter_groups_and_backbone_gate(tiny_backbone, tmp_path):
    """Backbone and head get their own learning rates; the gate keeps the backbone at lr 0 for N steps."""
    from transformers import TrainingArguments

    from hf_ser import SERModelForAudioClassification
    from hf_ser.training import SERTrainer

    model = SERModelForAudioClassification.from_backbone(tiny_backbone, id2label={0: "anger", 1: "neutral"})
    args = TrainingArguments(
        output_dir=str(tmp_path),
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        use_cpu=True,
        report_to="none",
    )
    trainer = SERTrainer(model=model, args=args, backbone_learning_rate=1e-5, freeze_backbone_steps=3)
    assert trainer.args.remove_unused_columns is False
    assert trainer.args.label_names == ["labels"]
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    groups = trainer.optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    for group in groups:
        in_backbone = {names[id(p)].startswith("backbone.") for p in group["params"]}
        assert in_backbone == {group["is_backbone"]}
    assert not any(
        n.startswith("backbone.feature_extractor")
        for g in groups
        for n in map(names.get, map(id, g["params"]))
    )
    lrs = lambda: {g["is_backbone"]: g["lr"] for g in groups}  # noqa: E731
    assert lrs() == {True: 0.0, False: 1e-3}
    for _ in range(3):
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert lrs() == {True: pytest.approx(1e-5), False: pytest.approx(1e-3)}


def test_unknown_backbone_option_rejected(tiny_backbone):
    from hf_ser.training import parse_config
    from hf_ser.training.model_factory import check_backbone_options

    with pytest.raises(
        ValueError, match=r"Unknown `backbone_config` option\(s\) \['mask_prob'\] for the wav2vec2"
    ):
        check_backbone_options(
            parse_config(["--backbone", tiny_backbone, "--backbone_config.mask_prob", "0.1"])
        )


def test_pruning_callback_stops_a_bad_trial():
    from transformers import TrainerControl, TrainerState

    from hf_ser.training.hpo import OptunaPruningCallback

    class Trial:
        reported: list = []

        def report(self, value, step):
            self.reported.append((value, step))

        def should_prune(self):
            return True

    callback, control = OptunaPruningCallback(Trial(), "uar"), TrainerControl()
    callback.on_evaluate(None, TrainerState(global_step=5), control, metrics={"eval_uar": 0.1})
    assert Trial.reported == [(0.1, 5)]
    assert control.should_training_stop
    assert callback.pruned


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tiny_backbone, tmp_path, capsys):
    """KILL -9 a real run after a mid-epoch checkpoint, --resume it, compare with an uninterrupted run."""
    # 12 training clips, batch 2: 6 steps per epoch, checkpoints every 4 steps (mid-epoch), 10 steps.
    common = flags({"model.classifier_dropout": 0.2}, backbone=tiny_backbone, max_steps=10, save_steps=4,
                   use_validation="false", save_total_limit=5, seed=7,
                   per_device_train_batch_size=2)  # fmt: skip
    killed = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "recipes" / "finetune.py"), *common, "--output_dir", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def kill_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 150
        while process.poll() is None and time.monotonic() < deadline:
            if (killed / "checkpoint-4" / "trainer_state.json").is_file():
                os.kill(process.pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    # The watcher kills the subprocess while this process runs the uninterrupted reference (saves time).
    watcher = threading.Thread(target=kill_after_first_checkpoint)
    watcher.start()
    reference = run_recipe("finetune", [*common, "--output_dir", str(tmp_path / "reference")])
    watcher.join()
    process.wait(timeout=150)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert not (killed / "metrics.json").exists()
    last = max(int(p.name.split("-")[1]) for p in killed.glob("checkpoint-*"))
    assert last < 10, "the run finished before it was killed"
    capsys.readouterr()
    resumed = run_recipe("finetune", [*common, "--output_dir", str(killed), "--resume"])
    assert f"--resume: continuing from {killed / f'checkpoint-{last}'}" in capsys.readouterr().out
    assert json.loads((killed / "checkpoint-10" / "trainer_state.json").read_text())["global_step"] == 10
    for key in ("loss", "uar", "wa"):
        assert resumed["test"][key] == pytest.approx(reference["test"][key], rel=1e-5, abs=1e-6), key


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tiny_backbone, tmp_path):
    """`accelerate launch --num_processes 2` on CPU (gloo): trains, evaluates, writes outputs once."""
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # On a machine without GPUs, `--multi_gpu` makes accelerate start torchrun workers that use gloo on CPU
    # (`--cpu --num_processes 2` would start a single process).
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    command = [*launcher, str(REPO / "recipes" / "finetune.py"),
               *flags(backbone=tiny_backbone, output_dir=out, max_steps=3)]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test"}
    card = (out / "README.md").read_text()
    assert "| world_size | 2 |" in card
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert state["train_batch_size"] == 4
    assert yaml.safe_load((out / "train_config.yaml").read_text())["max_steps"] == 3
    # Distributed evaluation gathered every test clip once: same UAR as a plain single-process pass.
    assert metrics["test"]["uar"] == pytest.approx(single_process_test_uar(out), abs=1e-9)


def single_process_test_uar(out: Path) -> float:
    """UAR of the saved model on the run's test split, computed clip by clip in this process."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from hf_ser.data.decoding import with_decoded_audio
    from hf_ser.data.transforms import CenterCrop
    from hf_ser.metrics import uar
    from hf_ser.training import load_yaml
    from hf_ser.training.config import TrainConfig
    from hf_ser.training.preparation import load_dataset_for, split_data

    cfg = TrainConfig(**load_yaml(out / "train_config.yaml"))
    test = with_decoded_audio(
        split_data(cfg, load_dataset_for(cfg)).tests["test"], augment=CenterCrop(cfg.max_eval_seconds)
    )
    model = AutoModelForAudioClassification.from_pretrained(out).eval()
    extractor = AutoFeatureExtractor.from_pretrained(out)
    predictions, references = [], []
    for row in test:
        inputs = extractor(
            [row["audio"]["array"]], sampling_rate=16000, return_attention_mask=True, return_tensors="pt"
        )
        with torch.no_grad():
            predictions.append(int(model(**inputs).logits.argmax(-1)))
        references.append(row["label"])
    return uar(predictions=predictions, references=references)


def test_lstm_sa_global_normalisation_fitted_on_training_split_only(tmp_path):
    """`feature_normalization: global`: statistics of the training clips (not validation/test), saved with the
    model and reloaded by AutoFeatureExtractor; `feature_extractor:` options reach the saved extractor."""
    from transformers import AutoFeatureExtractor

    import hf_ser  # noqa: F401  (registers the Auto classes)
    from hf_ser.data.transforms import CenterCrop
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor
    from hf_ser.training import parse_config
    from hf_ser.training.preparation import decoded, load_dataset_for, split_data

    out = tmp_path / "out"
    argv = [
        "--config", config("reslstm_sa_h32"),
        *flags(output_dir=out, max_steps=2, num_train_epochs=1, use_validation="true"),  # held-out split
    ]  # fmt: skip
    run_recipe("finetune", argv)
    saved = json.loads((out / "preprocessor_config.json").read_text())
    assert saved["normalization"] == "global"
    assert saved["hop_length"] == 512

    cfg = parse_config(argv)
    data = split_data(cfg, load_dataset_for(cfg))

    def fitted(*splits):
        clips = [row["audio"]["array"] for split in splits for row in decoded(split, CenterCrop(None))]
        return MfccChromaFeatureExtractor(hop_length=512).fit_global_normalization(clips)

    from_train = fitted(data.train)
    np.testing.assert_allclose(saved["mean"], from_train.mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(saved["std"], from_train.std, rtol=1e-6, atol=1e-8)
    with_held_out = fitted(data.train, data.validation, data.tests["test"])
    assert not np.allclose(saved["mean"], with_held_out.mean), "held-out speakers leaked into the statistics"
    loaded = AutoFeatureExtractor.from_pretrained(out)
    assert isinstance(loaded, MfccChromaFeatureExtractor)
    assert loaded.normalization == "global"
    clip = next(iter(decoded(data.tests["test"], CenterCrop(None))))["audio"]["array"]
    np.testing.assert_allclose(loaded.extract(clip), from_train.extract(clip), atol=1e-5)


def test_lstm_sa_test_time_speeds_in_the_test_metrics_and_the_saved_config(tmp_path):
    """`test_time_speeds: [0.9, 1.1]`: saved in config.json, and the recipe's test figures are those of the
    averaged predictions, i.e. what `hf_ser.pipeline` (which reads the speeds from the config) gives on the
    test clips; with the speeds turned off the pipeline's probabilities differ."""
    from hf_ser import pipeline
    from hf_ser.metrics import classification_metrics
    from hf_ser.training import parse_config
    from hf_ser.training.preparation import load_dataset_for, split_data

    out = tmp_path / "out"
    argv = [
        "--config", config("reslstm_sa_h32"),
        *flags(output_dir=out, max_steps=6, max_eval_seconds=None, test_time_speeds="[0.9, 1.1]"),
    ]  # fmt: skip
    run_recipe("finetune", argv)
    assert json.loads((out / "config.json").read_text())["test_time_speeds"] == [0.9, 1.1]
    reported = json.loads((out / "metrics.json").read_text())["test"]

    cfg = parse_config(argv)
    test = split_data(cfg, load_dataset_for(cfg)).tests["test"].with_format(None)
    paths = [value["path"] for value in test["audio"]]
    pipe = pipeline(str(out), dtype="float32")
    assert pipe.test_time_speeds == (0.9, 1.1)
    results = pipe(paths)
    label2id = {name: index for index, name in pipe.id2label.items()}
    expected = classification_metrics(
        predictions=[label2id[r["label"]] for r in results], references=test["label"]
    )
    assert reported["uar"] == pytest.approx(expected["uar"], abs=1e-9)
    assert reported["wa"] == pytest.approx(expected["wa"], abs=1e-9)
    plain = pipe(paths, test_time_speeds=None)
    assert any(
        p["scores"] != pytest.approx(r["scores"], abs=1e-4) for p, r in zip(plain, results, strict=True)
    )

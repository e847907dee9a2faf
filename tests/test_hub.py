"""Publishing to the Hub: dry runs end to end (staging, loading checks, card), LoRA runs, upload."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import soundfile as sf
import soxr
import yaml
from huggingface_hub import ModelCard

from hf_ser.cards import validate_model_card
from hf_ser.hub import PublishResult, check_model_folder, publish, write_modelling_code

REPO_ID = "me/tiny-ser"
LABELS = ["anger", "happiness", "neutral", "sadness"]


@pytest.fixture
def run_dir(tmp_path: Path, tiny_checkpoint_dir: Path) -> Path:
    """A finished recipe run: checkpoint + metrics, config, a plot, and things that must not be uploaded."""
    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint_dir, run)
    (run / "metrics.json").write_text(
        json.dumps(
            {"validation": {"uar": 0.41, "wa": 0.45, "loss": 1.3}, "test": {"uar": 0.38, "macro_f1": 0.33}}
        )
    )
    (run / "train_config.yaml").write_text(
        yaml.safe_dump(
            {
                "corpus": "emodb",
                "backbone": "./tiny",
                "seed": 0,
                "learning_rate": 1e-4,
                "protocol": "speaker_folds",
                "data_dir": "/home/alice/corpora/emodb",
                "output_dir": str(run),
            }
        )
    )
    (run / "confusion_matrix.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "training_args.bin").write_bytes(b"pickle")
    (run / "checkpoint-2").mkdir()
    (run / "checkpoint-2" / "optimizer.pt").write_bytes(b"pickle")
    return run


@pytest.fixture
def speech_wav(tmp_path: Path, data_dir: Path) -> Path:
    """A real EmoDB clip as 16 kHz mono WAV (what the card's usage snippet expects)."""
    audio, rate = sf.read(str(data_dir / "emodb" / "03a01Wa.flac"), dtype="float32")
    path = tmp_path / "speech.wav"
    sf.write(str(path), soxr.resample(audio, rate, 16000), 16000)
    return path


def _code_blocks(card: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card, flags=re.DOTALL)


def test_dry_run_stages_exactly_the_model_checks_it_and_writes_a_valid_card(
    run_dir: Path, speech_wav: Path, capsys: pytest.CaptureFixture
) -> None:
    (run_dir / "hub_dry_run").mkdir()
    (run_dir / "hub_dry_run" / "stale.txt").write_text("left by an earlier dry run")
    result = publish(run_dir, REPO_ID, dry_run=True)
    assert isinstance(result, PublishResult)
    assert result.dry_run
    assert result.url is None
    assert result.folder == run_dir / "hub_dry_run"
    assert result.files == sorted(
        str(p.relative_to(result.folder)) for p in result.folder.rglob("*") if p.is_file()
    )
    expected = {
        "README.md",
        "card_data.json",
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "modeling_ser.py",
        "configuration_ser.py",
        "metrics.json",
        "train_config.yaml",
        "confusion_matrix.png",
        "onnx/model.onnx",
        "onnx/config.json",
    }
    assert expected <= set(result.files)
    assert not [f for f in result.files if f.endswith((".bin", ".pt")) or f.startswith("checkpoint")]
    assert "stale.txt" not in result.files  # the default dry-run folder is replaced
    assert result.skipped == {
        "checkpoint-2/": "directory not published (checkpoints, logs, staging)",
        "training_args.bin": "pickle-based format, never uploaded (safetensors only)",
    }
    assert sorted(result.checks) == [
        "auto_classes", "model_card", "no_local_paths", "no_pickles", "onnx", "trust_remote_code"
    ]  # fmt: skip
    assert "transformers_modules" in result.checks["trust_remote_code"]

    card = (result.folder / "README.md").read_text()
    validate_model_card(card)
    data = ModelCard(card).data
    assert data.library_name == "hf_ser"
    assert data.pipeline_tag == "audio-classification"
    assert data.model_name == REPO_ID
    assert data.language == ["de"]
    assert "onnx" in data.tags
    assert {(r.dataset_split, r.metric_type, r.metric_value) for r in data.eval_results} == {
        ("validation", "recall", 0.41),
        ("validation", "accuracy", 0.45),
        ("test", "recall", 0.38),
        ("test", "f1", 0.33),
    }
    assert re.search(r"^- \*\*ONNX:\*\* an export for onnxruntime is in `onnx/`\.$", card, re.M)
    assert re.search(r"^- \*\*Labels:\*\* anger, happiness, neutral, sadness$", card, re.M)
    assert "base_model" not in data.to_dict()  # a local backbone path is not a Hub id

    # The usage snippets on the card run as written, against the staged folder instead of the Hub id.
    blocks = _code_blocks(card)
    assert len(blocks) == 2
    assert all(f'"{REPO_ID}"' in block for block in blocks)
    for block in blocks:
        exec(block.replace(REPO_ID, str(result.folder)).replace("speech.wav", str(speech_wav)), {})
    printed = capsys.readouterr().out
    assert re.search(r"'label': '(anger|happiness|neutral|sadness)'", printed)
    assert re.search(r"^(anger|happiness|neutral|sadness)$", printed, re.M)

    # Local paths (user names) are redacted; relative ones stay.
    staged_config = yaml.safe_load((result.folder / "train_config.yaml").read_text())
    assert staged_config["data_dir"] == staged_config["output_dir"] == "<local>"
    assert staged_config["backbone"] == "./tiny"
    assert "alice" not in "".join(p.read_text(errors="ignore") for p in result.folder.rglob("*.*")
                                  if p.suffix in (".json", ".yaml", ".md"))  # fmt: skip

    # The checks catch a broken card, pickles and local paths (cheap checks run first).
    (result.folder / "metrics.json").write_text(json.dumps({"test": {"uar": 0.4}, "source": "/home/bob/x"}))
    with pytest.raises(ValueError, match=r"would upload local paths .*metrics.json.source: /home/bob/x"):
        check_model_folder(result.folder)
    (result.folder / "metrics.json").write_text(json.dumps({"test": {"uar": 0.4}}))
    card_path = result.folder / "README.md"
    card_path.write_text(card.replace("library_name: hf_ser", "library_name: timm"))
    with pytest.raises(ValueError, match="library_name must be 'hf_ser'"):
        check_model_folder(result.folder)
    (result.folder / "extra.pt").write_bytes(b"pickle")
    with pytest.raises(ValueError, match=r"contains pickle-based files \['extra.pt'\]"):
        check_model_folder(result.folder)


def test_dry_run_of_a_lora_adapter_run_merges_it_and_ships_the_adapter(
    tmp_path: Path, tiny_checkpoint_dir: Path
) -> None:
    import torch
    from transformers import AutoModelForAudioClassification

    from hf_ser import add_lora

    torch.manual_seed(1)
    base = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint_dir)
    peft_model = add_lora(base, r=2, alpha=4)
    with torch.no_grad():  # a trained adapter: non-zero LoRA B matrices and changed head
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name or "classifier" in name:
                parameter.add_(0.05 * torch.randn_like(parameter))
    run = tmp_path / "lora_run"
    peft_model.save_pretrained(run)
    shutil.copy2(tiny_checkpoint_dir / "preprocessor_config.json", run)
    assert json.loads((run / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        tiny_checkpoint_dir
    )

    result = publish(run, REPO_ID, dry_run=True, include_onnx=False, folder=tmp_path / "staged")
    assert {
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "README.md",
    } <= set(result.files)
    assert "adapter_config.json" not in result.files
    assert "trust_remote_code" in result.checks
    merged = AutoModelForAudioClassification.from_pretrained(result.folder).eval()
    reference = peft_model.merge_and_unload().eval()
    inputs = torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(merged(inputs).logits, reference(inputs).logits, atol=1e-5, rtol=1e-5)
    card = (result.folder / "README.md").read_text()
    assert re.search(r"^- \*\*LoRA:\*\* r=2, alpha=4, .*adapter-only weights\.$", card, re.M)
    assert "lora" in ModelCard(card).data.tags


def test_publishing_replaces_stale_modelling_code_of_the_run_and_its_onnx_export(
    run_dir: Path, tmp_path: Path
) -> None:
    """A run saved by an older hf_ser carries that version's code; the published folder has today's."""
    import hf_ser.models
    from hf_ser.export import to_onnx

    models = Path(hf_ser.models.__file__).parent
    to_onnx(str(run_dir), str(run_dir / "onnx"))
    broken = "raise ImportError('modelling code of an old hf_ser')\n"
    (run_dir / "modeling_ser.py").write_text(broken)
    (run_dir / "onnx" / "configuration_ser.py").write_text(broken)
    (run_dir / "old_helpers.py").write_text("VERSION = '0.0.1'\n")
    config = json.loads((run_dir / "config.json").read_text())
    config["auto_map"]["AutoModelForAudioClassification"] = "old_modeling.SERModelForAudioClassification"
    (run_dir / "config.json").write_text(json.dumps(config))

    result = publish(run_dir, REPO_ID, dry_run=True, folder=tmp_path / "staged")
    assert {"trust_remote_code", "onnx"} <= set(result.checks)  # the folder loads without hf_ser
    for name in ("modeling_ser.py", "configuration_ser.py", "onnx/configuration_ser.py"):
        assert (result.folder / name).read_text() == (models / Path(name).name).read_text()
    assert "onnx/modeling_ser.py" not in result.files  # an export needs only the config's code
    assert "old_helpers.py" not in result.files
    assert result.skipped["old_helpers.py"] == "not part of the current hf_ser modelling code of this model"
    assert json.loads((result.folder / "config.json").read_text())["auto_map"] == {
        "AutoConfig": "configuration_ser.SERConfig",
        "AutoModelForAudioClassification": "modeling_ser.SERModelForAudioClassification",
    }
    assert (run_dir / "modeling_ser.py").read_text() == broken  # the run directory is left as it was

    not_ours = tmp_path / "not_ours"
    not_ours.mkdir()
    (not_ours / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    with pytest.raises(ValueError, match=r"model_type 'wav2vec2', which is not an hf_ser model \('hf_ser'"):
        write_modelling_code(not_ours)


class RecordingHfApi:
    """Stands in for `huggingface_hub.HfApi`: records calls and what the uploaded folder held."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, token=None) -> None:
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        folder = Path(kwargs["folder_path"])
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        self.calls.append(("upload_folder", {**kwargs, "files": files}))
        return type(
            "CommitInfo", (), {"commit_url": f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"}
        )()


def test_real_publish_creates_the_repo_and_uploads_the_checked_folder(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    import hf_ser.hub.model

    RecordingHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHfApi)

    def recording_check(folder: Path) -> dict[str, str]:  # the checks themselves are tested by the dry runs
        RecordingHfApi.calls.append(
            ("check_model_folder", {"files": sorted(p.name for p in Path(folder).iterdir())})
        )
        return {"recorded": "check ran on the staged folder"}

    monkeypatch.setattr(hf_ser.hub.model, "check_model_folder", recording_check)
    (run_dir / "lora_adapter").mkdir()  # the recipes' LoRA layout: merged model + adapter beside it
    for name in ("adapter_config.json", "adapter_model.safetensors", "README.md"):
        (run_dir / "lora_adapter" / name).write_text("{}")
    result = publish(run_dir, REPO_ID, private=True, include_onnx=False, token="hf_test")
    assert not result.dry_run
    assert result.url == f"https://huggingface.co/{REPO_ID}/commit/abc"
    names = [name for name, _ in RecordingHfApi.calls]
    assert names == [
        "check_model_folder",
        "init",
        "create_repo",
        "upload_folder",
    ]  # checked before any upload
    assert RecordingHfApi.calls[1][1] == {"token": "hf_test"}
    assert RecordingHfApi.calls[2][1] == {
        "repo_id": REPO_ID,
        "private": True,
        "exist_ok": True,
        "repo_type": "model",
    }
    upload = RecordingHfApi.calls[3][1]
    assert upload["repo_id"] == REPO_ID
    assert upload["repo_type"] == "model"
    assert upload["files"] == result.files
    assert "README.md" in upload["files"]
    assert "model.safetensors" in upload["files"]
    assert RecordingHfApi.calls[0][1]["files"] == sorted({f.split("/")[0] for f in result.files})
    assert [f for f in result.files if "adapter" in f] == [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
    ]
    assert result.checks == {"recorded": "check ran on the staged folder"}
    assert not (run_dir / "hub_dry_run").exists()  # a real publish stages in a temporary folder


def test_publish_rejects_bad_inputs_with_clear_messages(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"repo_id must look like 'user/name'.*got 'me/tiny ser'"):
        publish(run_dir, "me/tiny ser", dry_run=True)
    with pytest.raises(ValueError, match="is not a directory"):
        publish(tmp_path / "missing", REPO_ID, dry_run=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no model here")
    with pytest.raises(ValueError, match=r"holds no model: expected config.json .* found notes.txt"):
        publish(empty, REPO_ID, dry_run=True)
    (run_dir / "model.safetensors").rename(run_dir / "pytorch_model.bin")
    with pytest.raises(ValueError, match="has no safetensors weights"):
        publish(run_dir, REPO_ID, dry_run=True, include_onnx=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("user file")
    with pytest.raises(ValueError, match="Staging folder .* is not empty"):
        publish(run_dir, REPO_ID, dry_run=True, folder=busy)
    assert (busy / "keep.txt").read_text() == "user file"


def test_command_line_glue_passes_every_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    import argparse

    import hf_ser.app.publish
    from hf_ser.app.demo import add_demo_arguments
    from hf_ser.app.publish import (
        add_publish_arguments,
        add_publish_space_arguments,
        run_publish,
        run_publish_space,
    )

    calls = []

    def fake(name):
        def record(*args, **kwargs):
            calls.append((name, args, kwargs))
            return PublishResult(
                repo_id="me/x", folder=tmp_path, files=["README.md"], checks={"model_card": "valid"}
            )

        return record

    monkeypatch.setattr(hf_ser.app.publish, "publish", fake("publish"))
    monkeypatch.setattr(hf_ser.app.publish, "publish_space", fake("publish_space"))
    args = add_publish_arguments(argparse.ArgumentParser()).parse_args(
        ["runs/x", REPO_ID, "--dry-run", "--no-onnx", "--private", "--token", "t"]
    )
    assert run_publish(args) == 0
    expected = {"private": True, "dry_run": True, "include_onnx": False, "token": "t", "folder": None}
    assert calls[-1] == ("publish", ("runs/x", REPO_ID), expected)
    args = add_publish_space_arguments(argparse.ArgumentParser()).parse_args(["me/space", "--model", REPO_ID])
    assert run_publish_space(args) == 0
    expected = {"private": False, "dry_run": False, "token": None, "folder": None}
    assert calls[-1] == ("publish_space", ("me/space", REPO_ID), expected)
    assert "ok model_card: valid" in capsys.readouterr().out
    demo_args = add_demo_arguments(argparse.ArgumentParser()).parse_args(["--port", "7861"])
    assert (demo_args.host, demo_args.port, demo_args.model) == ("127.0.0.1", 7861, None)

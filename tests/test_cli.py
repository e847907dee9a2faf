"""Tests of the ``hf-ser`` command line (``hf_ser.app.cli.main`` in-process, plus one real subprocess)."""

from __future__ import annotations

import dataclasses
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_LABELS

from hf_ser.app.cli import COMMANDS, collect_audio_files, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tiny_checkpoint) -> str:
    coarse_frames = {"conv_dim": (32, 32), "conv_kernel": (20, 16), "conv_stride": (20, 16)}
    directory = tiny_checkpoint(
        "cli_model",
        backbone_overrides=coarse_frames,
        task="multitask",
        pooling_attention_size=128,
        initializer_range=0.5,
    )
    return str(directory)


@pytest.fixture(scope="module")
def clips(data_dir) -> list[str]:
    return [str(data_dir / "emodb" / name) for name in ("03a01Wa.flac", "03a01Nc.flac")]


def test_predict_json_lines(model_dir, clips, capsys):
    assert (
        main(["predict", *clips, "--model", model_dir, "--json", "--top-k", "2", "--dtype", "float32"]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, clips, strict=True):
        record = json.loads(line)
        assert record["file"] == path
        assert record["label"] in TINY_LABELS.values()
        assert len(record["scores"]) == 2
        assert {"arousal", "dominance", "valence"} <= set(record)


def test_predict_test_time_speeds_match_the_pipeline(model_dir, clips, capsys):
    """``--test-time-speeds 0.9,1.1`` prints what ``pipeline(..., test_time_speeds=[0.9, 1.1])`` returns
    (multitask model: probabilities and A/D/V averaged); ``none`` is the plain prediction; bad values
    exit 2."""
    from hf_ser import pipeline

    def run(*extra: str) -> list[dict]:
        assert main(["predict", *clips, "--model", model_dir, "--json", "--dtype", "float32", *extra]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]

    pipe = pipeline(model_dir, dtype="float32")
    for extra, speeds in (
        (("--test-time-speeds", "0.9,1.1"), [0.9, 1.1]),
        (("--test-time-speeds", "none"), None),
    ):
        for record, expected in zip(run(*extra), pipe(clips, test_time_speeds=speeds), strict=True):
            assert record["scores"] == pytest.approx(expected["scores"], abs=1e-6)
            assert record["arousal"] == pytest.approx(expected["arousal"], abs=1e-6)
    with pytest.raises(SystemExit) as error:
        main(["predict", *clips, "--model", model_dir, "--test-time-speeds", "fast"])
    assert error.value.code == 2
    assert "0.9,1.1" in capsys.readouterr().err


def test_predict_table_with_chunks(model_dir, clips, capsys):
    assert (
        main(["predict", clips[0], "--model", model_dir, "--chunk-length", "1.0", "--dtype", "float32"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "label", "score", "arousal", "dominance", "valence"]
    assert lines[1].startswith(clips[0])
    assert len(lines) == 2 + 3  # file row + three 1-s windows over the 2-s clip (hop 2/3 s)
    assert "0.00-1.00 s" in lines[2]


def test_predict_json_chunks_have_segments(model_dir, clips, capsys):
    assert main(["predict", clips[1], "--model", model_dir, "--chunk-length", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [segment["start"] for segment in record["segments"]] == [0.0, 0.667, 1.0]


def test_bad_file_is_reported_without_traceback_and_others_still_run(model_dir, clips, tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    code = main(["predict", clips[0], str(broken), "/no/such.wav", "--model", model_dir, "--json"])
    captured = capsys.readouterr()
    assert code == 1  # some files failed; 2 stays for usage errors
    assert len(captured.out.strip().splitlines()) == 1  # the good clip
    assert "broken.wav" in captured.err
    assert "not found: /no/such.wav" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("as_json", [True, False])
def test_files_failing_while_decoded_are_reported_and_the_rest_printed(
    model_dir, clips, tmp_path, as_json, capsys
):
    """Files whose header reads fine but whose samples do not (NaN, truncated FLAC) fail while decoded, in the
    middle of a batch: each is named on stderr and every good file still gets its line or table row."""
    import numpy as np
    import soundfile as sf

    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.full(8000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(Path(clips[0]).read_bytes()[:20000])
    argv = ["predict", clips[0], str(nan), str(truncated), clips[1], "--model", model_dir]
    code = main(argv + (["--json"] if as_json else []))
    captured = capsys.readouterr()
    assert code == 1
    assert f"{nan}: Audio contains NaN or Inf values" in captured.err and str(truncated) in captured.err
    if as_json:
        assert [json.loads(line)["file"] for line in captured.out.splitlines()] == [clips[0], clips[1]]
    else:
        assert [line.split()[0] for line in captured.out.splitlines()[1:]] == [clips[0], clips[1]]


def test_errors_exit_2_and_debug_shows_the_exception(model_dir, clips, capsys):
    assert main(["predict", clips[0], "--model", model_dir, "--top-k", "0"]) == 2
    assert "hf-ser: error: top_k must be None or a positive integer" in capsys.readouterr().err
    assert main(["predict", clips[0], "--model", "/no/such/model"]) == 2
    assert "/no/such/model': no such folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="top_k"):
        main(["--debug", "predict", clips[0], "--model", model_dir, "--top-k", "0"])


def test_directories_expand_to_audio_files(tmp_path, clips):
    (tmp_path / "sub").mkdir()
    for index, clip in enumerate(clips):
        (tmp_path / "sub" / f"{index}.flac").write_bytes(Path(clip).read_bytes())
    (tmp_path / "notes.txt").write_text("ignored")
    assert collect_audio_files([str(tmp_path)]) == [
        str(tmp_path / "sub" / "0.flac"),
        str(tmp_path / "sub" / "1.flac"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No audio files"):
        collect_audio_files([str(empty)])


def test_every_command_is_registered():
    inference = {"predict", "export", "demo", "report"}
    recipes = {"train", "crossval", "hpo", "distill"}
    assert inference | recipes | {"publish", "publish-space", "label"} == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert COMMANDS[name].description.splitlines()[0] in out
    assert "Example" in out
    if COMMANDS[name].passthrough:  # then the recipe's config parser lists its flags
        assert "--config" in out
        assert "--output_dir (default:" in out


def test_export_offers_int8_quantisation(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "--quantize {int8}" in capsys.readouterr().out


def test_demo_builds_and_launches_the_app_on_loopback(monkeypatch):
    import hf_ser.app.demo

    calls = {}

    class FakeApp:
        def launch(self, **kwargs):
            calls["launch"] = kwargs

    def fake_build_demo(model=None):
        calls["model"] = model
        return FakeApp()

    monkeypatch.setattr(hf_ser.app.demo, "build_demo", fake_build_demo)
    assert main(["demo", "--model", "some/model", "--port", "7861"]) == 0
    assert calls["model"] == "some/model"
    assert calls["launch"] == {"server_name": "127.0.0.1", "server_port": 7861, "max_file_size": "100mb"}


def test_publish_dry_run_stages_and_checks_a_checkpoint(tiny_checkpoint_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint_dir, run)
    stage = tmp_path / "stage"
    code = main(["publish", str(run), "me/tiny-ser", "--dry-run", "--no-onnx", "--folder", str(stage)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Dry run: staged" in out
    assert str(stage) in out
    assert "ok trust_remote_code: loads without hf_ser" in out
    assert "ok model_card" in out
    staged = {path.name for path in stage.iterdir()}
    assert {"README.md", "config.json", "model.safetensors", "modeling_ser.py"} <= staged
    assert not (stage / "onnx").exists()


def test_publish_commands_report_bad_arguments_without_traceback(tiny_checkpoint_dir, capsys):
    assert main(["publish", str(tiny_checkpoint_dir), "not a repo id", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "hf-ser: error: repo_id must look like 'user/name'" in err
    assert "Traceback" not in err
    assert main(["publish-space", "me/demo", "--model", str(tiny_checkpoint_dir), "--dry-run"]) == 2
    assert "must be a Hub model id ('user/name'): a Space cannot read local paths" in capsys.readouterr().err


def test_distill_help_shows_the_recipe_flags_and_its_defaults(capsys):
    from hf_ser.training.distill import DISTILL_DEFAULTS

    with pytest.raises(SystemExit) as exit_info:
        main(["distill", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Distil a teacher checkpoint")
    assert "Defaults of this command: --model_type student, --output_dir outputs/distill" in out
    assert "--teacher (default: None)" in out
    assert "--distill_temperature" in out
    assert DISTILL_DEFAULTS == {"model_type": "student", "output_dir": "outputs/distill"}


@pytest.mark.parametrize(
    "name, shown, hidden",
    [
        ("train", ["--learning_rate"], ["--n_trials", "--search_space", "--teacher", "--distill_alpha"]),
        ("crossval", ["--seeds"], ["--n_trials", "--teacher"]),
        ("hpo", ["--n_trials", "--search_space"], ["--teacher", "--distill_alpha"]),
        ("distill", ["--teacher", "--distill_alpha"], ["--n_trials", "--search_space"]),
    ],
)
def test_each_recipe_help_shows_only_its_own_flags(name, shown, hidden, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    out = capsys.readouterr().out
    assert all(f"{flag} (default:" in out for flag in shown)
    assert not any(f"{flag} (default:" in out for flag in hidden)


def test_verbose_flag_is_accepted_and_default_runs_are_quiet(monkeypatch):
    from hf_ser import progress

    seen = []

    def record(args):
        seen.append(progress._verbose[0])
        return 0

    monkeypatch.setitem(COMMANDS, "predict", dataclasses.replace(COMMANDS["predict"], run=record))
    assert main(["--verbose", "predict", "x.wav"]) == 0
    assert main(["predict", "x.wav"]) == 0
    assert seen == [True, False]


def test_distill_config_errors_exit_2(tmp_path, capsys):
    assert main(["distill", "--no_such_key", "1"]) == 2
    assert "no_such_key" in capsys.readouterr().err
    missing = tmp_path / "no_teacher"
    assert main(["distill", "--teacher", str(missing), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"hf-ser: error: Teacher {str(missing)!r} does not exist" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_no_command_prints_usage(capsys):
    assert main([]) == 2
    assert "usage: hf-ser" in capsys.readouterr().err


def test_python_dash_m_hf_ser_prints_the_commands(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["hf_ser", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("hf_ser", run_name="__main__")  # what `python -m hf_ser --help` runs
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: hf-ser" in out
    assert all(name in out for name in COMMANDS)


def test_module_entry_point_runs_in_a_subprocess(model_dir, clips):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-m", "hf_ser", "predict", clips[0], "--model", model_dir, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["file"] == clips[0]
    assert "Loading weights" not in completed.stderr  # transformers' progress bars are silenced


def test_export_then_predict_with_onnx(tmp_path, clips, capsys):
    from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor

    torch.manual_seed(0)
    checkpoint, exported = tmp_path / "lstm", tmp_path / "onnx"
    model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=16, id2label=dict(TINY_LABELS)))
    model.save_pretrained(checkpoint)
    MfccChromaFeatureExtractor().save_pretrained(checkpoint)
    assert main(["export", str(checkpoint), str(exported)]) == 0
    assert (exported / "model.onnx").is_file()
    capsys.readouterr()
    assert main(["predict", clips[0], "--model", str(exported), "--backend", "onnx", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in TINY_LABELS.values()


def test_readme_command_runs_the_default_model_on_the_examples(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    examples = sorted(str(path) for path in (REPO / "examples").glob("*.wav"))
    assert main(["predict", *examples]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["file", "label", "score"]
    assert [line.split()[0] for line in table[1:]] == examples

"""The Gradio demo / Space: gradio_client calls against a locally launched app, errors, Space files."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tomllib
from huggingface_hub import SpaceCard

REPO = Path(__file__).resolve().parents[1]
SPACE_DIR = REPO / "spaces"
LABELS = {"anger", "happiness", "neutral", "sadness"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`python spaces/app.py` run as a Space runs it: the model from `HF_SER_MODEL`, the address from
    `GRADIO_SERVER_NAME` / `GRADIO_SERVER_PORT` (a free loopback port). Stopped after the module."""
    port = free_port()
    env = {
        **os.environ,
        "HF_SER_MODEL": str(tiny_checkpoint_dir),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    workdir = tmp_path_factory.mktemp("space_app")
    with (workdir / "app.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(SPACE_DIR / "app.py")],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"spaces/app.py exited early:\n{(workdir / 'app.log').read_text()[-3000:]}"
                )
            try:
                opener.open(url, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"spaces/app.py did not serve {url} within 240 s") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """Four real EmoDB clips back to back (8 s at 22.05 kHz): longer than the app's 4 s window."""
    clips = [
        sf.read(str(data_dir / "emodb" / name), dtype="float32")[0]
        for name in ("03a01Wa.flac", "03a01Nc.flac", "03a02Ta.flac", "03a01Fa.flac")
    ]
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(str(path), np.concatenate(clips), 22050)
    return path


def test_api_has_one_predict_endpoint_taking_one_audio_file(client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/predict"]
    parameter, transcript = endpoints["/predict"]["parameters"]
    assert parameter["component"] == "Audio"
    assert parameter["python_type"]["type"] == "filepath"
    # The optional transcript (for models that also read text) has a default: one file is enough.
    assert transcript["component"] == "Textbox" and transcript["parameter_has_default"]
    assert [r["component"] for r in endpoints["/predict"]["returns"]] == [
        "Label",
        "Plot",
        "Plot",
        "Plot",
        "Plot",
        "Json",
        "Markdown",
    ]


def test_predict_on_a_real_clip_gives_label_scores_and_charts(client, data_dir: Path) -> None:
    from gradio_client import handle_file

    label, scores, adv, timeline, attention, result, status = client.predict(
        handle_file(str(data_dir / "emodb" / "03a01Wa.flac")), api_name="/predict"
    )
    assert result["label"] in LABELS
    assert set(result["scores"]) == LABELS
    assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-6)
    assert result["duration_s"] == pytest.approx(2.0, abs=0.01)
    assert "segments" not in result
    assert label["value"]["label"] == result["label"]
    assert scores["value"]["type"] == "matplotlib"
    assert scores["value"]["plot"].startswith("data:image/")
    assert attention["value"]["plot"].startswith("data:image/")  # attentive-stats pooling has frame weights
    assert adv["visible"] is False
    assert timeline["visible"] is False  # categorical model, clip within one window
    assert re.match(
        rf"\*\*{result['label']}\*\* · 03a01Wa\.flac, 2\.0 s · `.*tiny_checkpoint.*` · \d+\.\d\d s", status
    )


def test_long_clip_gets_emotion_over_time(client, long_wav: Path) -> None:
    from gradio_client import handle_file

    *_, timeline, attention, result, status = client.predict(handle_file(str(long_wav)), api_name="/predict")
    segments = result["segments"]
    assert len(segments) >= 2
    assert segments[0]["start"] == 0.0
    assert segments[-1]["end"] == pytest.approx(8.0, abs=0.01)
    assert all(s["label"] in LABELS for s in segments)
    assert timeline["visible"] is True
    assert timeline["value"]["plot"].startswith("data:image/")
    assert attention["value"]["plot"].startswith("data:image/")
    assert f"in {len(segments)} windows of 4 s" in status


def test_bad_uploads_show_a_readable_error_and_the_app_keeps_serving(
    client, tmp_path: Path, data_dir: Path
) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 8)
    with pytest.raises(AppError, match=r"Could not decode audio corrupt\.wav"):
        client.predict(handle_file(str(corrupt)), api_name="/predict")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AppError, match=r"empty\.wav.*empty"):
        client.predict(handle_file(str(empty)), api_name="/predict")
    *_, result, _ = client.predict(
        handle_file(str(data_dir / "urdu" / "Angry" / "SM1_F10_A010.flac")), api_name="/predict"
    )
    assert result["label"] in LABELS


def test_predict_errors_for_missing_too_long_audio_and_unloadable_models(
    tiny_checkpoint_dir: Path, long_wav: Path, tmp_path: Path
) -> None:
    import gradio as gr

    from hf_ser.app.demo import ModelCache, predict

    models = ModelCache()
    with pytest.raises(gr.Error, match="No audio: upload a file or record from the microphone first"):
        predict(models, None, str(tiny_checkpoint_dir))
    with pytest.raises(gr.Error, match=r"long\.wav.*8\.0 s long, more than max_seconds=5"):
        predict(models, str(long_wav), str(tiny_checkpoint_dir), max_seconds=5)
    with pytest.raises(gr.Error, match=r"could not be loaded: .*tmp"):
        predict(models, str(long_wav), str(tmp_path / "no-such-model"))


def test_uploads_over_the_size_limit_are_refused_before_decoding(long_wav: Path, monkeypatch) -> None:
    import gradio as gr

    import hf_ser.app.demo as demo

    def never(*args, **kwargs):
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr("hf_ser.data.audio.load_audio", never)
    with pytest.raises(gr.Error, match=r"long\.wav is 0\.\d MB; this server accepts files up to 0\.01 MB"):
        demo.predict(demo.ModelCache(), str(long_wav), "", max_megabytes=0.01)


def test_model_box_serves_only_offered_models_and_errors_reveal_no_server_paths(
    tiny_checkpoint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hf_ser.app.demo import ALLOWED_MODELS_ENV_VARIABLE, ModelCache, allowed_model_keys

    monkeypatch.setenv(ALLOWED_MODELS_ENV_VARIABLE, f" {tiny_checkpoint_dir} , me/other")
    allowed = allowed_model_keys("me/configured")
    assert allowed == {"", "me/configured", str(tiny_checkpoint_dir), "me/other"}
    models = ModelCache(allowed=allowed, max_models=1)
    with pytest.raises(ValueError, match=r"'/etc' is not offered by this server \(available: "):
        models.get("/etc")
    assert models.get(str(tiny_checkpoint_dir)) is models.get(str(tiny_checkpoint_dir))
    with pytest.raises(ValueError) as error:  # offered, but it does not load: only its name is shown
        models.get("me/configured")
    assert str(error.value) == (
        "'me/configured' is not a loadable hf_ser model (Hub id or checkpoint directory)."
    )
    models.get("")
    assert len(models) == 1  # bounded cache: the least recently used pipeline was dropped


def test_model_comes_from_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tiny_checkpoint_dir: Path
) -> None:
    import gradio as gr

    from hf_ser.app.demo import MODEL_ENV_VARIABLE, build_demo

    monkeypatch.setenv(MODEL_ENV_VARIABLE, str(tiny_checkpoint_dir))
    demo = build_demo(examples_dir=REPO / "examples")
    states = [block for block in demo.blocks.values() if isinstance(block, gr.State)]
    assert [state.value for state in states] == [str(tiny_checkpoint_dir)]
    textboxes = [
        block
        for block in demo.blocks.values()
        if isinstance(block, gr.Textbox) and block.elem_id != "transcript"  # the optional transcript box
    ]
    assert [box.value for box in textboxes] == [str(tiny_checkpoint_dir)]
    examples = [block for block in demo.blocks.values() if isinstance(block, gr.Dataset)]
    assert len(examples) == 1
    assert len(examples[0].samples) == len(list((REPO / "examples").glob("*.wav")))


def test_space_files_declare_a_gradio_space_with_hf_ser_dependencies() -> None:
    card = SpaceCard.load(SPACE_DIR / "README.md")
    assert card.data.sdk == "gradio"
    assert card.data.app_file == "app.py"
    assert (SPACE_DIR / "app.py").is_file()
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(card.data.sdk_version))
    assert card.data.title
    assert card.data.license
    assert "from hf_ser.app.demo import build_demo" in (SPACE_DIR / "app.py").read_text()
    requirements = (SPACE_DIR / "requirements.txt").read_text()
    names = {
        re.split(r"[<>=\[ ]", line)[0].lower()
        for line in requirements.splitlines()
        if line and not line.startswith(("#", "-"))
    }
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = {re.split(r"[<>=\[ ]", dep)[0].lower() for dep in dependencies} - names
    assert not missing, f"spaces/requirements.txt lacks hf_ser dependencies {missing}"
    assert "gradio" in names


def test_publish_space_dry_run_stages_a_self_contained_space(tmp_path: Path) -> None:
    from hf_ser.hub import publish_space

    result = publish_space("me/hf-ser-demo", model="me/tiny-ser", dry_run=True, folder=tmp_path / "space")
    assert {
        "app.py",
        "README.md",
        "requirements.txt",
        "hf_ser/__init__.py",
        "hf_ser/app/demo.py",
        "hf_ser/cards/templates/model_card.md",
        "examples/README.md",
    } <= set(result.files)
    assert not [f for f in result.files if "__pycache__" in f or f.endswith(".pyc")]
    assert {f for f in result.files if f.startswith("examples/")} == {
        f"examples/{p.name}" for p in (REPO / "examples").iterdir() if p.suffix in (".wav", ".md")
    }
    assert SpaceCard.load(result.folder / "README.md").data.models == ["me/tiny-ser"]
    assert result.space_variables == {"HF_SER_MODEL": "me/tiny-ser"}
    assert sorted(result.checks) == ["app_builds", "space_card"]
    with pytest.raises(ValueError, match="must be a Hub model id"):
        publish_space("me/hf-ser-demo", model=str(tmp_path), dry_run=True)


@pytest.mark.parametrize("task", ["regression", "multitask"])
def test_dimensional_models_get_an_adv_chart_and_adv_over_time(
    task: str, tiny_checkpoint, long_wav: Path
) -> None:
    from matplotlib.figure import Figure

    from hf_ser.app.demo import ModelCache, predict

    directory = tiny_checkpoint(task=task, pooling="soft_attention")
    label, scores, adv, timeline, attention, result, status = predict(
        ModelCache(), str(long_wav), str(directory)
    )
    assert {"arousal", "dominance", "valence"} <= set(result)
    assert isinstance(adv, Figure)
    assert [ax.get_title() for ax in adv.axes] == ["Arousal / dominance / valence"]
    titles = [ax.get_title() for ax in timeline.axes]
    assert titles[-1] == "Arousal / dominance / valence over time"
    assert all({"arousal", "dominance", "valence"} <= set(s) for s in result["segments"])
    assert isinstance(attention, Figure)
    if task == "regression":
        assert label is None
        assert scores is None
        assert "label" not in result
        assert len(titles) == 1
        assert status.startswith("**dimensional model**")
    else:
        assert set(label) == LABELS
        assert isinstance(scores, Figure)
        assert titles[0] == "Emotion over time"


def test_without_a_model_the_app_serves_the_built_in_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from hf_ser.app.demo import BUILTIN_CHOICE, MODEL_ENV_VARIABLE, ModelCache, build_demo, predict
    from hf_ser.inference.pipeline import DEFAULT_MODEL_DIR

    monkeypatch.delenv(MODEL_ENV_VARIABLE, raising=False)
    demo = build_demo()
    assert [b.value for b in demo.blocks.values() if isinstance(b, gr.State)] == [""]
    assert [b.value for b in demo.blocks.values() if isinstance(b, gr.Radio)] == [BUILTIN_CHOICE]
    label, *_, result, status = predict(ModelCache(), str(REPO / "examples" / "stern_de.wav"), "")
    default_labels = set(json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["id2label"].values())
    assert result["label"] in default_labels
    assert set(label) == default_labels
    assert result["model"] == "built-in default"
    assert "the built-in default model" in status


def test_the_server_is_hardened_queue_upload_limit_and_temporary_files() -> None:
    """A bounded queue with a concurrency limit, Gradio's own upload limit, uploads deleted after an hour
    and when the server stops."""
    from hf_ser.app.demo import (
        DEFAULT_MAX_MEGABYTES,
        QUEUE_CONCURRENCY,
        QUEUE_MAX_SIZE,
        TEMP_FILE_AGE_S,
        build_demo,
        launch_settings,
    )

    demo = build_demo()
    assert demo._queue.default_concurrency_limit == QUEUE_CONCURRENCY
    assert demo._queue.max_size == QUEUE_MAX_SIZE
    assert demo.delete_cache == (TEMP_FILE_AGE_S, TEMP_FILE_AGE_S)
    assert launch_settings() == {"max_file_size": f"{DEFAULT_MAX_MEGABYTES:g}mb"}

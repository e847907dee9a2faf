"""The demo in a real headless Chromium (Debian's `chromium`, driven by Playwright): upload, analyse, errors.

Needs `/usr/bin/chromium` (`apt-get install chromium chromium-driver`) and the `playwright` package; the
browser is Debian's, so `playwright install` (which downloads its own) is not needed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
from pathlib import Path

import pytest
import soundfile as sf
from conftest import require_system_package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LABELS = ("anger", "happiness", "neutral", "sadness")
TIMEOUT_MS = 90_000  # generous: CI machines are shared


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    """Skip the module on a machine without Debian's Chromium (fail in CI, which installs it)."""
    require_system_package(
        os.access(CHROMIUM, os.X_OK) and importlib.util.find_spec("playwright") is not None,
        ("chromium", "chromium-driver"),
        "the Gradio browser test (and the playwright package)",
    )


@pytest.fixture(scope="module")
def app_url(tiny_checkpoint_dir: Path):
    """The demo as `hf-ser demo` starts it (`hf_ser.app.demo.launch`), on a free loopback port."""
    from hf_ser.app.demo import launch

    port = free_port()
    demo = launch(port=port, model=str(tiny_checkpoint_dir), prevent_thread_lock=True, quiet=True)
    assert demo.local_url == f"http://127.0.0.1:{port}/"
    yield demo.local_url
    demo.close()


@pytest.fixture
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # Offline: only the local app may be fetched (Gradio pages also ask for web fonts).
        page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
        page.goto(app_url, wait_until="domcontentloaded")
        page.wait_for_selector("#analyse")
        yield page
        browser.close()


def wav_copy(source: Path, target: Path) -> Path:
    """The corpus FLAC as a WAV file (what most users upload)."""
    audio, rate = sf.read(str(source), dtype="float32")
    sf.write(str(target), audio, rate)
    return target


def upload(page, path: Path) -> None:
    clear = page.locator("#audio button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator("#audio input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#audio [data-testid='waveform-Speech'], #audio audio", state="attached")


def analyse_and_wait_for_status(page, file_name: str) -> str:
    page.click("#analyse")
    status = page.locator("#status")
    status.filter(has_text=file_name).wait_for()
    return status.inner_text()


def test_upload_analyse_shows_label_and_charts_and_survives_a_corrupt_file(
    page, tmp_path: Path, data_dir: Path
) -> None:
    clip = wav_copy(data_dir / "emodb" / "03a01Wa.flac", tmp_path / "emodb_anger.wav")
    upload(page, clip)
    status = analyse_and_wait_for_status(page, clip.name)
    assert re.search(rf"({'|'.join(LABELS)}) · emodb_anger\.wav, 2\.0 s", status)
    label_text = page.inner_text("#label")
    assert any(label in label_text for label in LABELS)
    for chart in ("#scores_plot", "#attention_plot"):
        image = page.locator(f"{chart} img")
        image.wait_for(state="visible")
        assert image.get_attribute("src").startswith("data:image/")
        assert image.bounding_box()["width"] > 100

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 8)
    upload(page, corrupt)
    page.click("#analyse")
    page.get_by_text(re.compile(r"Could not decode audio corrupt\.wav")).first.wait_for(state="visible")

    second = wav_copy(sorted((data_dir / "urdu" / "Sad").glob("*.flac"))[0], tmp_path / "urdu_sad.wav")
    upload(page, second)
    status = analyse_and_wait_for_status(page, second.name)
    assert re.search(rf"({'|'.join(LABELS)}) · urdu_sad\.wav, \d+\.\d s", status)

    # The model chooser: a path that is no model gives a readable error; the built-in default then serves.
    page.click("#model_panel button")
    page.locator("#model_choice").get_by_text("Hub id or local path").click()
    page.locator("#model_text textarea, #model_text input").first.fill(str(tmp_path / "no-such-model"))
    page.click("#load_model")
    page.get_by_text(re.compile(r"could not be loaded")).first.wait_for(state="visible")
    page.locator("#model_choice").get_by_text("Built-in default model").click()
    page.click("#load_model")
    page.locator("#status").filter(has_text="Using the built-in default model.").wait_for()
    page.click("#analyse")
    page.locator("#status").filter(
        has_text=re.compile(r"urdu_sad\.wav.*the built-in default model")
    ).wait_for()

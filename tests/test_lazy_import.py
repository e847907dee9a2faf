"""``import hf_ser`` is light (no torch, no transformers) yet still registers the Auto classes.

Each check runs in a fresh interpreter: this test process has imported torch long ago.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HELP_BUDGET_S = 1.0


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


HEAVY = "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"


def test_import_and_help_leave_torch_and_transformers_out():
    """``import hf_ser.app.cli``, ``hf-ser --help`` and ``hf-ser predict --help`` import neither."""
    code = """
        import sys
        from hf_ser.app.cli import main
        for argv in (["--help"], ["predict", "--help"]):
            try:
                main(argv)
            except SystemExit:
                pass
    """
    result = run_python(textwrap.dedent(code) + HEAVY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["predict", "--help"]])
def test_help_is_fast(argv):
    """``hf-ser --help`` and ``hf-ser predict --help`` within a second (the interpreter's start included)."""
    best = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "hf_ser", *argv], capture_output=True, text=True, cwd=REPO, check=False
        )
        best = min(best, time.perf_counter() - start)
        assert result.returncode == 0, result.stderr
    assert best <= HELP_BUDGET_S, f"hf-ser {' '.join(argv)} took {best:.2f} s"


@pytest.mark.parametrize(
    "load",
    [
        "from transformers import AutoModelForAudioClassification as Auto",
        "import hf_ser.export\nfrom transformers import AutoModelForAudioClassification as Auto",  # noqa: E501  (hf_ser.auto first)
        "from hf_ser.models import SERConfig\nfrom transformers import AutoModelForAudioClassification as Auto",  # noqa: E501
    ],
)
def test_auto_classes_load_hf_ser_checkpoints_after_import_hf_ser(load, tiny_checkpoint_dir):
    """Registration still happens, whichever way transformers' Auto classes are reached afterwards."""
    code = f"""
        import sys
        import hf_ser
        {HEAVY}
        {load}
        from transformers import AutoFeatureExtractor
        model = Auto.from_pretrained(sys.argv[1])
        extractor = AutoFeatureExtractor.from_pretrained(sys.argv[1])
        print(type(model).__name__, type(extractor).__name__)
    """
    result = run_python(textwrap.dedent(code).replace("\n" + " " * 8, "\n"), str(tiny_checkpoint_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "[]"
    assert lines[-1] == "SERModelForAudioClassification Wav2Vec2FeatureExtractor"


def test_transformers_imported_first_registers_at_once(tiny_checkpoint_dir):
    code = """
        import sys
        from transformers import AutoModelForAudioClassification
        import hf_ser
        print(type(AutoModelForAudioClassification.from_pretrained(sys.argv[1])).__name__)
    """
    result = run_python(code, str(tiny_checkpoint_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "SERModelForAudioClassification"


def test_public_names_load_on_access():
    import hf_ser

    assert set(hf_ser.__all__) <= set(dir(hf_ser))
    assert hf_ser.SERConfig.__module__ == "hf_ser.models.configuration_ser"
    assert callable(hf_ser.pipeline)  # the function, or the old module path made callable
    assert callable(hf_ser.load_lora)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hf_ser.nope  # noqa: B018

"""Fuzz the command line and the pipeline with mixed good and bad audio files (issue 17).

Every example writes a shuffled mix of real EmoDB clips and broken files (NaN samples, a truncated FLAC,
an empty file, a text file named ``.wav``, a missing path) plus files that are odd but usable (64
channels, float samples at int16 scale), then runs ``hf-ser --debug predict`` in-process (``--debug``
lets any exception escape instead of becoming exit code 2) and ``pipeline(errors="return")`` with the
built-in model. Every usable file must be reported, each broken one named, and nothing but an
`AudioError` may be raised.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_ser.app.cli import main
from hf_ser.data.audio import AudioError

FUZZ_EXAMPLES = 25
"""Hypothesis examples per test (each runs the built-in model on up to 7 files)."""

GOOD_CLIPS = ("03a01Wa.flac", "03a01Nc.flac", "03a02Ta.flac")
BROKEN = ("nan.wav", "truncated.flac", "empty.wav", "text.wav", "missing.wav")
ODD_BUT_USABLE = ("ch64.wav", "loud.wav")


def write_file(kind: str, directory: Path, emodb: Path) -> Path:
    """Write one test file of ``kind`` (a name from the tuples above) into ``directory``."""
    path = directory / kind
    rng = np.random.default_rng(len(kind))
    if kind in GOOD_CLIPS:
        shutil.copy(emodb / kind, path)
    elif kind == "nan.wav":
        sf.write(str(path), np.array([0.1, np.nan] * 4000, dtype=np.float32), 16000, subtype="FLOAT")
    elif kind == "truncated.flac":
        data = (emodb / GOOD_CLIPS[0]).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty.wav":
        path.write_bytes(b"")
    elif kind == "text.wav":
        path.write_text("this is not audio\n")
    elif kind == "ch64.wav":
        sf.write(str(path), rng.uniform(-0.3, 0.3, size=(8000, 64)).astype(np.float32), 16000)
    elif kind == "loud.wav":  # int16-scale samples stored as floats: usable, with a warning
        sf.write(str(path), rng.uniform(-9000, 9000, 8000).astype(np.float32), 16000, subtype="FLOAT")
    return path  # "missing.wav" is never written


@st.composite
def file_mixes(draw) -> tuple[list[str], bool]:
    """A shuffled list of distinct file kinds (at least one) and whether to pass their folder instead."""
    kinds = draw(
        st.lists(st.sampled_from(GOOD_CLIPS + BROKEN + ODD_BUT_USABLE), min_size=1, max_size=7, unique=True)
    )
    return kinds, draw(st.booleans())


def _is_broken(path: str) -> bool:
    return Path(path).name in BROKEN


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ_SETTINGS
@given(case=file_mixes())
def test_cli_reports_every_good_file_and_names_every_bad_one(data_dir, capsys, case):
    kinds, as_folder = case
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short / loud clips warn; not what is tested here
        paths = [str(write_file(kind, Path(folder), data_dir / "emodb")) for kind in kinds]
        if as_folder:  # the CLI expands folders to their audio files, sorted; a missing file is not there
            paths = sorted(path for path in paths if Path(path).exists())
        if not paths:
            return
        capsys.readouterr()
        code = main(
            ["--debug", "predict", *([folder] if as_folder else paths), "--json", "--batch-size", "3"]
        )
        out, err = capsys.readouterr()
    good = [path for path in paths if not _is_broken(path)]
    bad = [path for path in paths if _is_broken(path)]
    assert [json.loads(line)["file"] for line in out.splitlines()] == good
    assert all(f"hf-ser: error: {path}" in err or path in err for path in bad), err
    assert len([line for line in err.splitlines() if line.startswith("hf-ser: error:")]) == len(bad)
    assert code == (1 if bad else 0)


@pytest.fixture(scope="module")
def default_pipe():
    from hf_ser import pipeline

    return pipeline()


@FUZZ_SETTINGS
@given(case=file_mixes())
def test_pipeline_returns_an_entry_per_input_and_raises_only_audio_errors(data_dir, default_pipe, case):
    kinds, _ = case
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short / loud clips warn; not what is tested here
        paths = [str(write_file(kind, Path(folder), data_dir / "emodb")) for kind in kinds]
        results = default_pipe(paths, errors="return", batch_size=2)
        for path, result in zip(paths, results, strict=True):
            if _is_broken(path):
                assert result["input"] == path and path in result["error"]
            else:
                assert "label" in result and "error" not in result
        if any(map(_is_broken, paths)):
            with pytest.raises(AudioError):
                default_pipe(paths)

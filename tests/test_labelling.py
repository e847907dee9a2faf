"""hf_ser.labelling: 1 process = 2 accelerate processes, resume after kill -9, every source kind, bad files.

Real EmoDB clips (12, written as WAV at their native rate and cut to different lengths) plus one text
file named ``.wav``. The one-process reference run is done in-process once per module; the multi-process
and killed runs are subprocesses (``accelerate launch``, ``python -m hf_ser.app.label``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from hf_ser.labelling import label
from hf_ser.labelling.sharding import owner, shards_to_label, split_into_shards
from hf_ser.labelling.sources import Item, open_source
from hf_ser.labelling.writing import marker_path, shard_path

REPO = Path(__file__).resolve().parent.parent
NUM_CLIPS = 12
SHARD_SIZE = 3
TOLERANCE = 1e-6


def subprocess_env() -> dict[str, str]:
    """The environment of child processes: this checkout first on the path, one thread, offline."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    env.pop("ACCELERATE_USE_CPU", None)
    return env


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory, data_dir: Path) -> Path:
    """12 real clips (some in a sub-folder, 1.0-2.0 s long) and one text file named ``bad.wav``."""
    folder = tmp_path_factory.mktemp("clips")
    (folder / "speaker03").mkdir()
    for index, path in enumerate(sorted((data_dir / "emodb").glob("03*.flac"))[:NUM_CLIPS]):
        audio, rate = sf.read(path, dtype="float32")
        seconds = 1.0 + (index % 6) * 0.2
        target = folder / ("speaker03" if index % 2 else "") / f"{path.stem}.wav"
        sf.write(target, audio[: int(seconds * rate)], rate)
    (folder / "bad.wav").write_text("this is not audio")
    return folder


@pytest.fixture(scope="module")
def reference(clips_dir: Path, tmp_path_factory) -> list[dict]:
    """Rows of one in-process run over the folder."""
    out = tmp_path_factory.mktemp("reference")
    label(clips_dir, out, shard_size=SHARD_SIZE, progress=False)
    return read_rows(out)


def read_rows(out: Path) -> list[dict]:
    """Every row of the output directory, sorted by (id, window); checks it loads as one dataset."""
    import datasets

    dataset = datasets.load_dataset("parquet", data_files=str(out / "shard-*.parquet"), split="train")
    return sorted(dataset.to_list(), key=lambda row: (row["id"], row["window"]))


def assert_same_rows(rows: list[dict], expected: list[dict], ignore: tuple[str, ...] = ()) -> None:
    """Same rows, same order after sorting; floats equal within :data:`TOLERANCE`, rest exactly (except the
    ``ignore`` columns)."""
    assert [(row["id"], row["window"]) for row in rows] == [(row["id"], row["window"]) for row in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row.keys() == want.keys()
        for key, value in want.items():
            if key in ignore:
                continue
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, abs=TOLERANCE), (row["id"], key)
            else:
                assert row[key] == value, (row["id"], key)


def run_cli(args: list[str], *, processes: int = 1) -> subprocess.CompletedProcess:
    """``python -m hf_ser label ARGS``, under ``accelerate launch`` when ``processes > 1``."""
    command = [sys.executable]
    if processes > 1:  # torchrun-style launch; hf_ser asks accelerate for the multi-CPU (gloo) state
        command += ["-m", "accelerate.commands.launch", "--multi_gpu", f"--num_processes={processes}"]
        command += [
            "--num_machines=1",
            "--mixed_precision=no",
            "--dynamo_backend=no",
            "--main_process_port=0",
        ]
    command += ["-m", "hf_ser", "label", *args]
    return subprocess.run(
        command, env=subprocess_env(), cwd=REPO, capture_output=True, text=True, timeout=300
    )


# -- sharding --------------------------------------------------------------------------------------------
def test_shards_are_fixed_size_and_disjoint_across_processes():
    items = [Item(f"{index:03d}", None, None) for index in range(10)]
    shards = list(split_into_shards(items, 3))
    assert [len(shard.items) for shard in shards] == [3, 3, 3, 1]
    for processes in (1, 2, 3):
        taken = [
            shard.index for p in range(processes) for shard in shards_to_label(items, 3, p, processes, set())
        ]
        assert sorted(taken) == [0, 1, 2, 3]
        assert all(owner(k, processes) == k % processes for k in taken)
    assert [shard.index for shard in shards_to_label(items, 3, 0, 1, {0, 2})] == [1, 3]


# -- one process, two processes, bad files ---------------------------------------------------------------
def test_folder_rows_have_scores_windows_and_an_error_row(reference, clips_dir):
    assert len(reference) == NUM_CLIPS + 1
    bad = [row for row in reference if row["error"]]
    assert [row["id"] for row in bad] == ["bad.wav"] and "not recognised" in bad[0]["error"].lower()
    good = [row for row in reference if not row["error"]]
    assert all(row["start"] == 0.0 and 0.9 < row["end"] <= 2.0 for row in good)
    scores = np.array([[value for key, value in row.items() if key.startswith("score_")] for row in good])
    assert scores.shape == (NUM_CLIPS, 7) and np.allclose(scores.sum(axis=1), 1.0)
    assert {row["label"] for row in good} <= {
        key[len("score_") :] for key in good[0] if key.startswith("score_")
    }
    assert any(row["id"].startswith("speaker03/") for row in good)


def test_two_accelerate_processes_give_the_same_rows(reference, clips_dir, tmp_path):
    result = run_cli([str(clips_dir), "--out", str(tmp_path), "--shard-size", str(SHARD_SIZE)], processes=2)
    assert result.returncode == 0, result.stderr[-3000:]
    progress = [json.loads((tmp_path / "_state" / f"progress-{p}.json").read_text()) for p in (0, 1)]
    assert [counter["shards"] for counter in progress] == [3, 2]  # 5 shards: 0, 2, 4 and 1, 3
    assert_same_rows(read_rows(tmp_path), reference)
    output = result.stdout + result.stderr
    assert "1 clip(s) failed" in output and "label p1" in output  # summary, and a bar per process
    assert "[hf-ser label] 2 process(es): 13/13 clips" in output  # the main process's aggregate line


def test_a_clip_the_pipeline_rejects_becomes_its_reason():
    from hf_ser import pipeline
    from hf_ser.labelling.decoding import DecodedClip
    from hf_ser.labelling.run import RunOptions, classify_each

    good = DecodedClip(Item("good", None, None), audio=np.zeros(16000, dtype=np.float32))
    bad = DecodedClip(Item("bad", None, None), audio=np.full(16000, np.nan, dtype=np.float32))
    outcomes = classify_each(pipeline(dtype="float32"), [good, bad], RunOptions())
    assert isinstance(outcomes[0], dict) and "label" in outcomes[0]
    assert isinstance(outcomes[1], str) and "NaN" in outcomes[1]


def test_the_command_line_lists_label_and_its_flags():
    from hf_ser.app.cli import build_parser

    args = build_parser().parse_args(
        ["label", "clips/", "--out", "x", "--shard-size", "8", "--num-workers", "2"]
    )
    assert (args.command, args.source, args.shard_size, args.num_workers) == ("label", "clips/", 8, 2)


# -- resume ----------------------------------------------------------------------------------------------
KILL_DURING_THIRD_SHARD = """
import os, signal, sys
import hf_ser.labelling.run as run
from hf_ser.labelling.writing import atomic_write, shard_path
import pyarrow.parquet as pq

original, calls = run.write_shard, []

def write_then_die(output_dir, index, table, marker):
    calls.append(index)
    if len(calls) < 3:
        return original(output_dir, index, table, marker)
    atomic_write(shard_path(output_dir, index), lambda target: pq.write_table(table, target))
    os.kill(os.getpid(), signal.SIGKILL)  # after the shard file, before its marker

run.write_shard = write_then_die
from hf_ser.app.label import main
main(sys.argv[1:])
"""


def test_a_run_killed_mid_way_resumes_to_the_same_rows(reference, clips_dir, tmp_path):
    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING_THIRD_SHARD, str(clips_dir), "--out", str(tmp_path)]
        + ["--shard-size", str(SHARD_SIZE), "--no-progress"],
        env=subprocess_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert shard_path(tmp_path, 2).is_file() and not marker_path(tmp_path, 2).is_file()
    assert not marker_path(tmp_path, 3).is_file()
    summary = label(clips_dir, tmp_path, shard_size=SHARD_SIZE, progress=False)
    assert summary.shards_this_run == 3 and summary.shards == 5
    rows = read_rows(tmp_path)
    assert len({(row["id"], row["window"]) for row in rows}) == len(rows)
    assert_same_rows(rows, reference)
    assert not list(tmp_path.rglob(".*tmp*"))


def test_a_lost_shard_is_relabelled_alone(reference, clips_dir, tmp_path):
    label(clips_dir, tmp_path, shard_size=SHARD_SIZE, progress=False)
    shard_path(tmp_path, 1).unlink()
    marker_path(tmp_path, 1).unlink()
    before = shard_path(tmp_path, 0).stat().st_mtime_ns
    summary = label(clips_dir, tmp_path, shard_size=SHARD_SIZE, progress=False)
    assert summary.shards_this_run == 1 and shard_path(tmp_path, 0).stat().st_mtime_ns == before
    assert_same_rows(read_rows(tmp_path), reference)


def test_resume_with_other_settings_is_refused(clips_dir, tmp_path):
    label(clips_dir, tmp_path, shard_size=SHARD_SIZE, progress=False)
    with pytest.raises(ValueError, match="shard_size: 3 -> 4"):
        label(clips_dir, tmp_path, shard_size=4, progress=False)


# -- other sources ---------------------------------------------------------------------------------------
def audio_dataset(clips_dir: Path):
    """The folder's clips as a `datasets.Dataset` with an (undecoded) Audio column and an id column."""
    import datasets

    paths = sorted(str(path) for path in clips_dir.rglob("*.wav"))
    ids = [Path(path).relative_to(clips_dir).as_posix() for path in paths]
    features = datasets.Features(
        {
            "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
            "key": datasets.Value("string"),
        }
    )
    rows = {"audio": [{"bytes": None, "path": path} for path in paths], "key": ids}
    return datasets.Dataset.from_dict(rows, features=features).cast_column(
        "audio", datasets.Audio(decode=False)
    )


def test_a_saved_dataset_gives_the_folder_rows(reference, clips_dir, tmp_path):
    audio_dataset(clips_dir).save_to_disk(str(tmp_path / "saved"))
    assert open_source(tmp_path / "saved", id_column="key").kind == "dataset"
    label(tmp_path / "saved", tmp_path / "out", shard_size=SHARD_SIZE, id_column="key", progress=False)
    rows = read_rows(tmp_path / "out")
    assert_same_rows(rows, reference, ignore=("path", "error"))  # save_to_disk embeds the audio bytes
    assert [bool(row["error"]) for row in rows] == [bool(row["error"]) for row in reference]
    assert "Format not recognised" in next(row["error"] for row in rows if row["error"])
    assert [row["path"] for row in rows] == [Path(row["path"]).name for row in reference]


def test_a_streaming_dataset_is_labelled_without_materialising_it(reference, clips_dir, tmp_path):
    stream = audio_dataset(clips_dir).to_iterable_dataset(num_shards=2)
    assert open_source(stream, id_column="key").kind == "stream"
    summary = label(stream, tmp_path, shard_size=SHARD_SIZE, id_column="key", progress=False)
    assert summary.clips == NUM_CLIPS + 1 and list(summary.failures) == ["bad.wav"]
    assert_same_rows(read_rows(tmp_path), reference)


def test_a_manifest_with_ids_and_relative_paths(reference, clips_dir, tmp_path):
    wanted = [row for row in reference if row["id"] != "bad.wav"][:4]
    lines = [
        json.dumps({"path": str(clips_dir / row["id"]), "id": f"clip{i}"}) for i, row in enumerate(wanted)
    ]
    (tmp_path / "list.jsonl").write_text("\n".join(lines) + "\n")
    csv_lines = ["file,name"] + [f"{row['id']},{row['id']}" for row in wanted]
    (clips_dir / "list.csv").write_text("\n".join(csv_lines) + "\n")
    try:
        label(tmp_path / "list.jsonl", tmp_path / "a", id_column="id", progress=False)
        label(clips_dir / "list.csv", tmp_path / "b", path_column="file", id_column="name", progress=False)
    finally:
        (clips_dir / "list.csv").unlink()
    by_id = read_rows(tmp_path / "a")
    assert [row["id"] for row in by_id] == ["clip0", "clip1", "clip2", "clip3"]
    assert [row["label"] for row in by_id] == [row["label"] for row in wanted]
    assert_same_rows(read_rows(tmp_path / "b"), wanted)


def test_chunked_long_audio_gives_one_row_per_window_and_embeddings(clips_dir, tmp_path):
    first = sorted(clips_dir.rglob("03*.wav"))[:3]
    pieces = [sf.read(path, dtype="float32") for path in first]
    (tmp_path / "long").mkdir()
    sf.write(tmp_path / "long" / "long.wav", np.concatenate([audio for audio, _ in pieces]), pieces[0][1])
    label(tmp_path / "long", tmp_path / "out", chunk_length_s=1.0, return_embeddings=True, progress=False)
    rows = read_rows(tmp_path / "out")
    assert [row["window"] for row in rows] == list(range(len(rows))) and len(rows) >= 3
    assert rows[0]["start"] == 0.0 and all(
        a["end"] > b["start"] for a, b in zip(rows, rows[1:], strict=False)
    )
    assert len({len(row["embedding"]) for row in rows}) == 1
    schema = pq.read_schema(shard_path(tmp_path / "out", 0))
    assert schema.field("embedding").type.value_type.bit_width == 32


def test_decoding_workers_give_the_same_rows(reference, clips_dir, tmp_path):
    label(clips_dir, tmp_path, shard_size=SHARD_SIZE, num_workers=2, progress=False)
    assert_same_rows(read_rows(tmp_path), reference)


def test_the_aggregate_line_adds_up_every_process():
    from hf_ser.labelling.progress import aggregate_line, format_eta

    counters = [{"clips": 30, "audio_s": 60.0, "shards": 1}, {"clips": 10, "audio_s": 36.0, "shards": 1}]
    line = aggregate_line(counters, total=100, elapsed=4.0)
    assert "2 process(es): 40/100 clips, 10.0 clips/s" in line and "ETA 6s" in line
    assert f"{96 / 3600 / 4:.4f} h audio/s" in line
    assert (format_eta(3725), format_eta(65), format_eta(None)) == ("1h02m05s", "1m05s", "?")

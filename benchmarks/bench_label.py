"""Scaling of ``hf-ser label``: clips/s of the built-in model on 1 vs 2 processes (one thread each).

    python benchmarks/bench_label.py --repeat 3 --rounds 3

builds a CSV manifest of the real EmoDB + URDU clips repeated ``--repeat`` times (unique ids
``r<k>/<corpus>/<file>``; 935 x 3 = 2,805 clips), then runs, interleaved for ``--rounds`` rounds, a
1-process and a 2-process labelling into fresh output directories (the 2-process run under
``accelerate launch``). Each process (this same script, ``--worker``) times its own labelling from the
model load to the end (all processes wait for each other at the end, so process 0's time is the run's
time) and records its peak RSS. Reports clips/s per run, the per-round 2-vs-1 ratio, their medians and the
load average; writes ``benchmarks/results/label_scaling_<clips>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))


def write_manifest(path: Path, repeat: int) -> int:
    """A CSV of every EmoDB and URDU clip, ``repeat`` times with distinct ids; returns the row count."""
    files = sorted((DATA / "emodb").glob("*.flac")) + sorted((DATA / "urdu").rglob("*.flac"))
    lines = ["path,id"] + [
        f"{file},r{copy}/{file.relative_to(DATA).as_posix()}" for copy in range(repeat) for file in files
    ]
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def worker(args: argparse.Namespace) -> None:
    """One labelling process: label, then write elapsed seconds, clips and peak RSS to ``--stats``."""
    from hf_ser.labelling import label
    from hf_ser.labelling.run import process_state

    state = process_state()
    started = time.perf_counter()
    summary = label(args.manifest, args.out, id_column="id", shard_size=args.shard_size, progress=False)
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = {
        "elapsed_s": elapsed,
        "clips": summary.clips,
        "audio_h": summary.audio_hours,
        "peak_rss_mib": peak_mib,
    }
    Path(f"{args.stats}-{state.process_index}.json").write_text(json.dumps(stats))


def launch(processes: int, manifest: Path, out: Path, stats: Path, shard_size: int) -> list[dict]:
    """Run the worker on ``processes`` processes; return each process's stats."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    command = [sys.executable]
    if processes > 1:
        command += ["-m", "accelerate.commands.launch", "--multi_gpu", f"--num_processes={processes}"]
        command += [
            "--num_machines=1",
            "--mixed_precision=no",
            "--dynamo_backend=no",
            "--main_process_port=0",
        ]
    command += [__file__, "--worker", "--manifest", str(manifest), "--out", str(out), "--stats", str(stats)]
    command += ["--shard-size", str(shard_size)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return [json.loads(Path(f"{stats}-{index}.json").read_text()) for index in range(processes)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    root = Path(tempfile.mkdtemp(prefix="bench_label_"))
    clips = write_manifest(root / "manifest.csv", args.repeat)
    runs = []
    for round_index in range(args.rounds):
        load = os.getloadavg()[0]
        row = {"round": round_index, "load_before": load}
        for processes in (1, 2):
            tag = f"r{round_index}p{processes}"
            stats = launch(processes, root / "manifest.csv", root / tag, root / tag, args.shard_size)
            row[f"p{processes}"] = stats
            row[f"clips_per_s_{processes}"] = clips / stats[0]["elapsed_s"]
        row["ratio"] = row["clips_per_s_2"] / row["clips_per_s_1"]
        row["load_after"] = os.getloadavg()[0]
        runs.append(row)
        print(json.dumps({key: value for key, value in row.items() if not key.startswith("p")}), flush=True)
    result = {
        "clips": clips,
        "rounds": runs,
        "median_clips_per_s_1": statistics.median(r["clips_per_s_1"] for r in runs),
        "median_clips_per_s_2": statistics.median(r["clips_per_s_2"] for r in runs),
        "median_ratio": statistics.median(r["ratio"] for r in runs),
        "peak_rss_mib": {
            "1 process": max(r["p1"][0]["peak_rss_mib"] for r in runs),
            "2 processes": [max(r["p2"][i]["peak_rss_mib"] for r in runs) for i in range(2)],
        },
    }
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / f"label_scaling_{clips}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({key: value for key, value in result.items() if key != "rounds"}, indent=1))


if __name__ == "__main__":
    main()

"""Scaling benchmark of the seq2seq mechanisms: latency and peak memory vs input length.

Measures, for inputs of 10, 50, 100, 200 and 400 s of 50 Hz frames (d_model 768, 12 heads, batch 1,
fp32, inference mode), side by side in one run:

- level ``mixer``: the attention core alone (``TokenMixer.core`` on precomputed per-head projections;
  input/output projections excluded), plus ``softmax_naive``, a textbook softmax attention that
  materialises the ``heads x frames x frames`` score matrix (memory reference);
- level ``block``: one whole pre-norm encoder block (projections + mixer + feed-forward), next to the
  ``none`` block (identity mixer: the floor).

Method. Every (level, mechanism, length) runs in a fresh Python subprocess so peak memory is not
polluted by earlier runs: the worker runs a 10 s warm-up, builds the module and inputs, returns
freed heap memory to the OS (``malloc_trim``), resets the kernel's peak-RSS counter (``VmHWM``, via
``/proc/self/clear_refs``), takes the current ``VmRSS`` as baseline, runs the timed repeats and
reports ``VmHWM - baseline``: the configuration's peak working memory (weights and inputs excluded,
outputs and every temporary included). Latency is the median of the timed repeats
(``time.perf_counter``; at least one, up to ``--max-repeats``, stopping after ``--time-budget``
seconds). The naive softmax is measured
only up to ``--naive-max-seconds`` (its score matrix needs 19 GB at 400 s); beyond that its memory
is reported as the size of one ``heads x T x T`` fp32 matrix, a lower bound, marked "analytic".
Torch uses ``--threads`` threads (default 1: the machine is shared and oversubscribed OpenMP threads
make small kernels erratic). ``--jobs N`` runs N workers at once (slowest configurations first):
shorter wall time, at the price of workers competing for cores, which adds noise to the latencies.

Usage::

    python benchmarks/bench_seq2seq.py                      # full run, writes benchmarks/results/
    python benchmarks/bench_seq2seq.py --seconds 10 50 --mechanisms none gla   # quick subset
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing hf_ser
    sys.path.insert(0, str(ROOT))

FRAME_RATE = 50
HIDDEN, HEADS = 768, 12
RESULTS = ROOT / "benchmarks" / "results"
MECHANISMS = (
    "none", "softmax_naive", "softmax", "forgetting", "retention", "gla", "delta", "lightnet", "gsa", "kda"
)
LINEAR = ("retention", "gla", "delta", "lightnet", "gsa", "kda")


def naive_softmax_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Softmax attention that materialises the full score matrix (memory reference only)."""
    scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])
    return scores.softmax(dim=-1) @ value


def _status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def _reset_peak() -> tuple[float, str]:
    """Start a fresh peak-memory window; return ``(baseline_mb, method)``.

    Linux: free what the setup left in the heap (``malloc_trim``), reset the peak resident set size
    (writing 5 to ``/proc/self/clear_refs`` resets ``VmHWM``) and take the current ``VmRSS`` as the
    baseline, so transient setup allocations are not mistaken for the measured peak. Elsewhere: the
    ``ru_maxrss`` high-water mark (an underestimate when setup peaked higher).
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mb("VmRSS"), "VmHWM - VmRSS after reset"
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "ru_maxrss delta"


def _peak_mb(method: str) -> float:
    if method.startswith("VmHWM"):
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _import_seq2seq():
    """Import ``hf_ser/models/seq2seq.py`` and its siblings as a stand-alone package.

    The modelling modules use relative imports of torch-only siblings, so they load without running
    ``hf_ser/__init__`` (which imports transformers and datasets: a minute per worker on a loaded
    machine). The code measured is the same file.
    """
    import importlib
    import types

    name = "_hf_ser_models_standalone"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(ROOT / "hf_ser" / "models")]
        sys.modules[name] = package
    return importlib.import_module(f"{name}.seq2seq")


def _build(level: str, mechanism: str, frames: int):
    """Return a zero-argument callable running one configuration on `frames` frames."""
    seq2seq = _import_seq2seq()
    Seq2SeqBlock, build_token_mixer = seq2seq.Seq2SeqBlock, seq2seq.build_token_mixer  # noqa: N806

    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, frames, HIDDEN, generator=generator)
    if level == "block":
        block = Seq2SeqBlock(mechanism, HIDDEN, HEADS, 4 * HIDDEN).eval()
        return lambda: block(hidden)
    mixer = build_token_mixer("softmax" if mechanism == "softmax_naive" else mechanism, HIDDEN, HEADS).eval()
    projected = mixer.project(hidden, None)
    if mechanism == "softmax_naive":
        return lambda: naive_softmax_attention(projected["query"], projected["key"], projected["value"])
    return lambda: mixer.core(**projected)


def worker(level: str, mechanism: str, seconds: float, max_repeats: int, time_budget: float) -> dict:
    """Measure one configuration (run in a fresh subprocess)."""
    frames = int(seconds * FRAME_RATE)
    with torch.inference_mode():
        _build(level, mechanism, 10 * FRAME_RATE)()  # warm-up: load kernels, allocator pools
        run = _build(level, mechanism, frames)
        baseline, memory_method = _reset_peak()
        timings: list[float] = []
        started = time.perf_counter()
        while len(timings) < max_repeats and (not timings or time.perf_counter() - started < time_budget):
            tick = time.perf_counter()
            output = run()
            timings.append(time.perf_counter() - tick)
            del output
    return {
        "level": level,
        "mechanism": mechanism,
        "seconds": seconds,
        "frames": frames,
        "latency_s": statistics.median(timings),
        "latency_runs_s": timings,
        "peak_memory_mb": _peak_mb(memory_method) - baseline,
        "memory_method": memory_method,
    }


def analytic_naive_record(seconds: float) -> dict:
    frames = int(seconds * FRAME_RATE)
    return {
        "level": "mixer",
        "mechanism": "softmax_naive",
        "seconds": seconds,
        "frames": frames,
        "latency_s": None,
        "latency_runs_s": [],
        "peak_memory_mb": HEADS * frames * frames * 4 / 2**20,
        "memory_method": "analytic: one heads x T x T fp32 matrix (lower bound)",
    }


def _cost(job: tuple) -> float:
    """Rough relative cost of a configuration, to start the slowest ones first."""
    _, mechanism, seconds = job
    return seconds**2 if mechanism in ("softmax", "softmax_naive", "forgetting") else seconds


def _measure(job: tuple, args: argparse.Namespace) -> dict:
    level, mechanism, seconds = job
    command = [
        sys.executable, __file__, "--worker", level, mechanism, str(seconds),
        "--threads", str(args.threads), "--max-repeats", str(args.max_repeats),
        "--time-budget", str(args.time_budget),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_all(args: argparse.Namespace) -> list[dict]:
    """Measure every configuration in its own worker process; records are appended to a JSONL log
    as they finish, so ``--resume`` continues an interrupted run."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm import tqdm

    jobs = []
    for level in ("mixer", "block"):
        for mechanism in args.mechanisms:
            skipped = "none" if level == "mixer" else "softmax_naive"  # identity mixer / mixer-only
            if mechanism == skipped:
                continue
            jobs += [(level, mechanism, seconds) for seconds in args.seconds]
    log_path = args.output.with_suffix(".jsonl")
    done = {}
    if args.resume and log_path.exists():
        for line in log_path.read_text().splitlines():
            record = json.loads(line)
            done[(record["level"], record["mechanism"], record["seconds"])] = record
    elif log_path.exists():
        log_path.unlink()
    for job in jobs:
        if job[1] == "softmax_naive" and job[2] > args.naive_max_seconds:
            done[job] = analytic_naive_record(job[2])
    pending = sorted((job for job in jobs if job not in done), key=_cost, reverse=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, log_path.open("a") as log:
        futures = {pool.submit(_measure, job, args): job for job in pending}
        for future in tqdm(as_completed(futures), total=len(futures), desc="configurations"):
            record = future.result()
            done[futures[future]] = record
            log.write(json.dumps(record) + "\n")
            log.flush()
            tqdm.write(
                f"{record['level']:6s} {record['mechanism']:14s} {record['seconds']:5.0f} s  "
                f"{record['latency_s']:8.3f} s  {record['peak_memory_mb']:8.1f} MB"
            )
    return [done[job] for job in jobs]


def _lookup(records: list[dict], level: str, mechanism: str, seconds: float):
    for record in records:
        if (record["level"], record["mechanism"], record["seconds"]) == (level, mechanism, seconds):
            return record
    return None


def markdown_table(records: list[dict], seconds_list: list[float]) -> str:
    lines = []
    for level, title in (("mixer", "Token mixer alone"), ("block", "Whole encoder block")):
        header = " | ".join(f"{s:g} s" for s in seconds_list)
        lines += [f"### {title}: latency (s) / peak memory (MB)", "", f"| mechanism | {header} |"]
        lines.append("|---" * (len(seconds_list) + 1) + "|")
        for mechanism in MECHANISMS:
            cells = []
            for seconds in seconds_list:
                record = _lookup(records, level, mechanism, seconds)
                if record is None:
                    cells.append("")
                    continue
                latency = "—" if record["latency_s"] is None else f"{record['latency_s']:.3f}"
                star = "*" if record["memory_method"].startswith("analytic") else ""
                cells.append(f"{latency} / {record['peak_memory_mb']:.0f}{star}")
            if any(cells):
                lines.append(f"| {mechanism} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("\\* analytic lower bound (one 12 x T x T fp32 matrix), not measured.")
    lines.append("")
    lines += targets_table(records, seconds_list)
    return "\n".join(lines)


def _judge(value, comparison: str, target: float, form: str, judged: bool) -> str:
    """Format a target figure, with a check mark (met) or a cross (missed) when ``judged``."""
    if not value:
        return ""
    met = value >= target if comparison == ">=" else value <= target
    return form.format(value) + ((" ✓" if met else " ✗") if judged else "")


def targets_table(records: list[dict], seconds_list: list[float]) -> list[str]:
    """Issue 8 targets at the longest length."""
    longest, shortest = max(seconds_list), min(seconds_list)
    sdpa = _lookup(records, "mixer", "softmax", longest)
    floor = _lookup(records, "block", "none", longest)
    naive = _lookup(records, "mixer", "softmax_naive", longest)
    lines = [
        f"### Targets at {longest:g} s",
        "",
        "| mechanism | mixer speed-up vs SDPA (>= 30x) | block / none (<= 1.5) | "
        f"mixer {longest:g} s / {shortest:g} s (<= 60) | mixer memory / materialised (<= 0.25) |",
        "|---|---|---|---|---|",
    ]
    for mechanism in ("softmax", "forgetting", *LINEAR):
        mixer = _lookup(records, "mixer", mechanism, longest)
        block = _lookup(records, "block", mechanism, longest)
        first = _lookup(records, "mixer", mechanism, shortest)
        if mixer is None:
            continue
        # targets apply to the linear mechanisms (memory: to all); softmax / forgetting rows are context
        judged = mechanism in LINEAR
        speedup = _judge(sdpa and sdpa["latency_s"] / mixer["latency_s"], ">=", 30, "{:.1f}x", judged)
        ratio = _judge(
            block and floor and block["latency_s"] / floor["latency_s"], "<=", 1.5, "{:.2f}", judged
        )
        growth = _judge(first and mixer["latency_s"] / first["latency_s"], "<=", 60, "{:.0f}", judged)
        share = naive and max(mixer["peak_memory_mb"], 0) / naive["peak_memory_mb"]
        memory = _judge(share, "<=", 0.25, "{:.4f}", True)
        lines.append(f"| {mechanism} | {speedup} | {ratio} | {growth} | {memory} |")
    return lines


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    for column, level in enumerate(("mixer", "block")):
        for mechanism in MECHANISMS:
            points = sorted(
                (r["seconds"], r["latency_s"], r["peak_memory_mb"])
                for r in records
                if r["level"] == level and r["mechanism"] == mechanism
            )
            if not points:
                continue
            timed = [(s, t) for s, t, _ in points if t is not None]
            if timed:
                axes[0, column].plot(*zip(*timed, strict=True), marker="o", label=mechanism)
            axes[1, column].plot(
                [s for s, _, _ in points], [max(m, 1.0) for _, _, m in points], marker="o", label=mechanism
            )
        axes[0, column].set_title(f"{level}: latency")
        axes[1, column].set_title(f"{level}: peak working memory (VmHWM - baseline)")
        axes[0, column].set_ylabel("seconds")
        axes[1, column].set_ylabel("MB")
        for row in range(2):
            axes[row, column].set_xscale("log")
            axes[row, column].set_yscale("log")
            axes[row, column].set_xlabel("input length (s of 50 Hz frames)")
            axes[row, column].grid(True, which="both", alpha=0.3)
            axes[row, column].legend(fontsize=7)
    figure.suptitle(f"seq2seq mechanisms, d_model {HIDDEN}, {HEADS} heads, batch 1, CPU fp32")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=3, metavar=("LEVEL", "MECHANISM", "SEC"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 50, 100, 200, 400])
    parser.add_argument("--mechanisms", nargs="+", default=list(MECHANISMS), choices=MECHANISMS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-repeats", type=int, default=5)
    parser.add_argument("--time-budget", type=float, default=8.0, help="stop repeating after this many s")
    parser.add_argument("--naive-max-seconds", type=float, default=100.0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes running at the same time")
    parser.add_argument("--resume", action="store_true", help="keep the records of the JSONL log")
    parser.add_argument("--output", type=Path, default=RESULTS / "seq2seq_scaling.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        level, mechanism, seconds = args.worker
        print(json.dumps(worker(level, mechanism, float(seconds), args.max_repeats, args.time_budget)))
        return
    started = time.time()
    records = run_all(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "hidden_size": HIDDEN,
        "num_heads": HEADS,
        "batch": 1,
        "frame_rate_hz": FRAME_RATE,
        "threads": args.threads,
        "concurrent_workers": args.jobs,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "load_average_at_end": list(__import__("os").getloadavg()),
        "wall_time_s": time.time() - started,
    }
    args.output.write_text(json.dumps({"meta": meta, "records": records}, indent=2))
    table = markdown_table(records, sorted(args.seconds))
    args.output.with_suffix(".md").write_text(table + "\n")
    plot(records, args.output.with_suffix(".png"))
    print(table)
    print(f"wrote {args.output} (+ .md, .png) in {meta['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()

"""The built-in model in the torch-free runtime vs the torch pipeline: speed, peak memory, cold start.

Each variant runs in a fresh child process (one thread: ``OMP_NUM_THREADS=1``, onnxruntime / torch
set to 1 intra-op thread) that

1. imports hf_ser and loads the built-in model, then classifies a 3-second example clip: the time from
   before the first import to that first result is the **cold start**;
2. classifies a 10-minute recording (EmoDB clips concatenated, 16 kHz WAV) ``--repeats`` times:
   audio seconds / median wall seconds is **x real time per core**;
3. reports its **peak RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` and ``VmHWM`` from
   ``/proc/self/status`` (this parent imports no numpy, torch or hf_ser, so its own high-water mark,
   which ``ru_maxrss`` inherits across ``exec``, stays below the children's).

Variants: ``runtime`` (``hf_ser.runtime.load()``, whole file), ``runtime chunked`` (``chunk_length_s=10``:
windows read from disk in batches of 8), ``torch pipeline`` (``hf_ser.pipeline(dtype="float32")``, whole
file). Until ``hf_ser/__init__`` is lazy (issue 18), ``import hf_ser`` imports torch, so the runtime
children register a bare ``hf_ser`` package (its ``__path__`` only, ``__init__`` not executed) — what
the lazy ``__init__`` amounts to for ``hf_ser.runtime``; the child reports whether torch got imported.

Run: ``python benchmarks/bench_runtime.py [--minutes 10] [--repeats 3] [--output results.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHORT_CLIP = REPO / "examples" / "cheerful_en.wav"

BARE_PACKAGE = """
import importlib.util, types
package = types.ModuleType("hf_ser")
package.__path__ = [str(importlib.util.find_spec("hf_ser").submodule_search_locations[0])]
sys.modules["hf_ser"] = package
"""

WRITE_RECORDING = """
import sys
import soundfile as sf
sys.path.insert(0, sys.argv[3])
from bench_features import long_recording
sf.write(sys.argv[1], long_recording(float(sys.argv[2])), 16000, subtype="PCM_16")
"""

CHILD = """
import json, resource, statistics, sys, time
start = time.perf_counter()
{setup}
first = classify(sys.argv[1])
cold_start = time.perf_counter() - start
walls, cpus = [], []
for _ in range(int(sys.argv[3])):
    wall, cpu = time.perf_counter(), time.process_time()
    result = classify(sys.argv[2]{call_kwargs})
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({{
    "cold_start_s": cold_start, "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
    "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "vmhwm_mb": hwm[0] / 1024,
    "torch_imported": "torch" in sys.modules, "label": result["label"], "first_label": first["label"],
}}))
"""

RUNTIME_SETUP = "from hf_ser.runtime import load\nclassify = load(num_threads=1)"
EAGER_PROBE = "import sys, hf_ser; print('torch' in sys.modules)"
TORCH_SETUP = (
    "import warnings\nwarnings.simplefilter('ignore')\nfrom hf_ser import pipeline\nimport torch\n"
    "torch.set_num_threads(1)\nclassify = pipeline(dtype='float32', device='cpu')"
)


def variants(bare_package: bool) -> dict[str, tuple[str, str]]:
    """``{name: (setup code, extra call arguments)}``; the runtime's setup uses a bare package if asked."""
    runtime = (BARE_PACKAGE if bare_package else "") + RUNTIME_SETUP
    return {
        "runtime": (runtime, ""),
        "runtime chunked (10 s windows)": (runtime, ", chunk_length_s=10.0"),
        "torch pipeline": (TORCH_SETUP, ""),
    }


def child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}


def init_is_eager() -> bool:
    """Whether ``import hf_ser`` imports torch (until issue 18's lazy ``__init__``)."""
    out = subprocess.run([sys.executable, "-c", EAGER_PROBE], capture_output=True, text=True, env=child_env())
    return out.stdout.strip() != "False"


def run_child(setup: str, call_kwargs: str, long_path: str, repeats: int) -> dict:
    """Run one variant in a fresh single-threaded interpreter; return its JSON report."""
    code = CHILD.format(setup=textwrap.indent(setup, "").strip(), call_kwargs=call_kwargs)
    out = subprocess.run(
        [sys.executable, "-c", code, str(SHORT_CLIP), long_path, str(repeats)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", help="write the rows as JSON here")
    args = parser.parse_args()
    seconds = args.minutes * 60
    rows = []
    bare = init_is_eager()
    with tempfile.TemporaryDirectory() as directory:
        long_path = str(Path(directory) / "long.wav")
        here = str(Path(__file__).resolve().parent)
        command = [sys.executable, "-c", WRITE_RECORDING, long_path, str(args.minutes), here]
        subprocess.run(command, check=True, env=child_env())
        for name, (setup, call_kwargs) in variants(bare).items():
            report = run_child(setup, call_kwargs, long_path, args.repeats)
            report.update(
                variant=name,
                x_real_time=seconds / report["wall_s"],
                x_real_time_cpu=seconds / report["cpu_s"],
            )
            rows.append(report)
    print(f"{seconds:.0f} s file, 1 thread, median of {args.repeats}; bare hf_ser package: {bare}")
    print("| variant | x real time (wall / CPU) | peak RSS MB (ru_maxrss / VmHWM) | cold start s | torch |")
    print("|---|---|---|---|---|")
    for row in rows:
        speed = f"{row['x_real_time']:.0f} / {row['x_real_time_cpu']:.0f}"
        memory = f"{row['ru_maxrss_mb']:.0f} / {row['vmhwm_mb']:.0f}"
        print(
            f"| {row['variant']} | {speed} | {memory} | {row['cold_start_s']:.2f} | {row['torch_imported']} |"
        )
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""The ``hf-ser`` command line: ``hf-ser predict examples/*.wav`` and friends.

Every subcommand is a small function registered in :data:`COMMANDS` with :func:`command`; adding one
is a single decorated function (heavy imports go inside it so that ``hf-ser --help`` stays fast)::

    @command("report", help="Write the evaluation report.", arguments=_report_arguments)
    def report(args: argparse.Namespace) -> int:
        from ..evaluation import write_report
        ...
        return 0

``passthrough=True`` hands the command-line words the subcommand does not declare to the function
(``args.rest``), for subcommands that wrap a recipe with its own flags (``hf-ser train --config x.yaml``);
their ``--help`` shows the command's description, then every flag of the recipe's config parser.

Errors (bad audio, missing files, bad options) are printed to stderr as one line, with exit code 2 and no
traceback; ``hf-ser --debug ...`` shows the traceback.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..progress import set_verbose
from ..version import __version__

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line help, an argument builder and the function that runs it."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None
    passthrough: bool = False
    description: Optional[str] = None


COMMANDS: dict[str, Command] = {}
"""Registered subcommands, in ``--help`` order."""


def command(
    name: str,
    *,
    help: str,  # noqa: A002  (argparse's own word)
    arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None,
    passthrough: bool = False,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register the decorated function as subcommand ``name`` (its docstring becomes the long help)."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        description = inspect.cleandoc(run.__doc__ or help)
        COMMANDS[name] = Command(name, help, run, arguments, passthrough, description)
        return run

    return register


class CLIError(ValueError):
    """A usage error reported as ``hf-ser: error: ...`` with exit code 2."""


# ----------------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------------
def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, OGG, MP3) or directories to search")
    parser.add_argument(
        "--model", default=None, help="checkpoint directory, Hub id or ONNX export (default: built-in model)"
    )
    parser.add_argument(
        "--chunk-length", type=float, default=None, metavar="S", help="classify in S-second windows"
    )
    parser.add_argument(
        "--stride-length", type=float, default=None, metavar="S", help="window overlap per side (default S/6)"
    )
    parser.add_argument(
        "--top-k", type=int, default=None, metavar="K", help="show only the K most likely classes"
    )
    parser.add_argument(
        "--stream",
        type=float,
        default=None,
        metavar="S",
        help="stream in S-second pieces: running prediction after each (causal linear seq2seq models)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per file (JSON lines)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument(
        "--dtype",
        default="auto",
        help="auto (bf16 when it does not change predictions), float32 or bfloat16; int8 for ONNX exports",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "onnx"),
        help="inference backend (default auto: the fastest that keeps torch fp32's predictions)",
    )
    parser.add_argument(
        "--test-time-speeds",
        type=_speed_list,
        default="config",
        metavar="F,F",
        help="also classify each clip at these speeds (e.g. 0.9,1.1) and average; 'none' turns it off "
        "(default: the model config's test_time_speeds)",
    )


def _speed_list(text: str) -> Any:
    """``"0.9,1.1"`` -> ``[0.9, 1.1]``; ``"none"`` -> ``None``; ``"config"`` stays (use the model's)."""
    from ..models.configuration_base import check_speeds

    if text.lower() in ("none", "off", "config"):
        return None if text.lower() != "config" else "config"
    try:
        return check_speeds(
            [float(value) for value in text.split(",") if value.strip()], "--test-time-speeds"
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected positive speeds like 0.9,1.1 or 'none', got {text!r}"
        ) from None


def collect_audio_files(paths: list[str]) -> list[str]:
    """Expand directories into the audio files they contain (sorted); keep file paths as given."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(str(p) for p in Path(path).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise CLIError(f"No audio files ({', '.join(AUDIO_EXTENSIONS)}) under directory {path}.")
            files.extend(found)
        else:
            files.append(path)
    return files


def to_jsonable(value: Any) -> Any:
    """Numpy arrays/scalars inside a result -> lists/floats, so ``json.dumps`` accepts it."""
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _describe(result: dict, targets: list[str]) -> list[str]:
    """Table cells for one result: label, its probability, then the regression values."""
    cells = []
    if "label" in result:
        cells += [str(result["label"]), f"{result['scores'][result['label']]:.3f}"]
    cells += [f"{result[name]:+.3f}" for name in targets]
    return cells


def format_table(files: list[str], results: list[dict], targets: list[str]) -> str:
    """Render results as an aligned text table (segments indented under their file when chunked)."""
    has_label = any("label" in result for result in results)
    header = ["file"] + (["label", "score"] if has_label else []) + targets
    rows = [header]
    for path, result in zip(files, results, strict=True):
        rows.append([path] + _describe(result, targets))
        for segment in result.get("segments", []):
            rows.append([f"  {segment['start']:8.2f}-{segment['end']:.2f} s"] + _describe(segment, targets))
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in rows
    )


EXIT_SOME_FAILED = 1
"""``predict`` exit code when some files could not be classified (the others were still reported)."""


@command("predict", help="Recognise emotions in audio files.", arguments=_predict_arguments)
def predict(args: argparse.Namespace) -> int:
    """Recognise the emotion of each audio file (built-in model unless --model is given).

    Every good file is reported (with --json one line per file, flushed as soon as it is done); each file
    that cannot be used (missing, undecodable, NaN...) is named on stderr with the reason, and the exit
    code is then 1.

    Examples:
      hf-ser predict examples/*.wav
      hf-ser predict recording.flac --chunk-length 10 --json > segments.jsonl
      hf-ser predict clips/ --model ./my_checkpoint --top-k 3
      hf-ser predict clips/ --model ./reslstm_run --test-time-speeds none   # no speed averaging
      hf-ser predict call.wav --model ./causal_checkpoint --stream 1 --json   # one line per update
    """
    from ..inference.pipeline import pipeline

    files = collect_audio_files(args.files)
    speeds = {} if args.test_time_speeds == "config" else {"test_time_speeds": args.test_time_speeds}
    classify = pipeline(
        args.model,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        batch_size=args.batch_size,
        **speeds,
    )
    run = _predict_stream if args.stream is not None else _predict_files
    return EXIT_SOME_FAILED if run(classify, files, args) else 0


def report_failure(path: str, reason: str) -> None:
    """One line on stderr naming the unusable file and why."""
    named = reason if path in reason else f"{path}: {reason}"
    print(f"hf-ser: error: {named}", file=sys.stderr, flush=True)


def _predict_files(classify: Any, files: list[str], args: argparse.Namespace) -> int:
    """Classify ``files`` a batch at a time (``errors="return"``): JSON lines are written as each batch
    ends, table rows at the end; bad files go to stderr. Returns the number of failed files."""
    from tqdm.auto import tqdm

    failures, rows = 0, []
    show = len(files) > 1 and sys.stderr.isatty()
    with tqdm(total=len(files), disable=not show, unit="file", desc="hf-ser") as bar:
        for start in range(0, len(files), args.batch_size):
            group = files[start : start + args.batch_size]
            results = classify(
                group,
                top_k=args.top_k,
                chunk_length_s=args.chunk_length,
                stride_length_s=args.stride_length,
                errors="return",
            )
            for path, result in zip(group, results, strict=True):
                if "error" in result:
                    failures += 1
                    report_failure(path, result["error"])
                elif args.json:
                    print(json.dumps({"file": path, **to_jsonable(result)}), flush=True)
                else:
                    rows.append((path, result))
            bar.update(len(group))
    if rows:
        paths, results = zip(*rows, strict=True)
        print(format_table(list(paths), list(results), classify.regression_targets), flush=True)
    return failures


def _predict_stream(classify: Any, files: list[str], args: argparse.Namespace) -> int:
    """``predict --stream S``: the running prediction over ``[0, end)`` after every S-second piece.
    Returns the number of files that could not be streamed (each reported on stderr)."""
    from ..data.audio import AudioError

    if args.chunk_length is not None:
        raise ValueError("--stream and --chunk-length exclude each other; pick one.")
    failures = 0
    for path in files:
        try:
            _stream_file(classify, path, args)
        except AudioError as error:
            failures += 1
            report_failure(path, str(error))
    return failures


def _stream_file(classify: Any, path: str, args: argparse.Namespace) -> None:
    """Stream one file: JSON lines per update, or a table of the updates at the end."""
    updates = []
    for update in classify.stream(path, piece_seconds=args.stream, top_k=args.top_k):
        if args.json:
            print(json.dumps({"file": path, **to_jsonable(update)}), flush=True)
        updates.append({**update, "start": 0.0})
    if not args.json:
        print(format_table([path], [{**updates[-1], "segments": updates}], classify.regression_targets))


# ----------------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------------
def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="checkpoint directory or Hub id to export")
    parser.add_argument("output_dir", help="directory for model.onnx, config.json and the feature extractor")
    parser.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="also write model_quantized.onnx (int8; run it: predict --backend onnx --dtype int8)",
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")


@command("export", help="Export a checkpoint to ONNX.", arguments=_export_arguments)
def export(args: argparse.Namespace) -> int:
    """Export a checkpoint to ONNX (hf_ser.export.to_onnx); run the result with --backend onnx.

    Examples:
      hf-ser export ./my_checkpoint ./my_onnx --quantize int8
      hf-ser predict a.wav --model ./my_onnx --backend onnx
    """
    from ..export import to_onnx

    path = to_onnx(args.model, args.output_dir, quantize=args.quantize, opset=args.opset)
    print(f"Exported to {path}")
    return 0


# ----------------------------------------------------------------------------------------------------
# train / crossval / hpo / distill: the recipes, from the installed package
# ----------------------------------------------------------------------------------------------------
def _run_recipe(
    name: str, run: Callable[[Any], Any], argv: list[str], defaults: Optional[dict[str, Any]] = None
) -> int:
    """Parse ``argv`` with the recipes' config parser and call ``run(config)``.

    No flags, ``-h`` or ``--help``: the command's own description, then every config key.
    """
    from ..training import parse_config

    if not argv or "-h" in argv or "--help" in argv:
        print(COMMANDS[name].description + "\n")
        if defaults:
            print("Defaults of this command: " + ", ".join(f"--{k} {v}" for k, v in defaults.items()) + "\n")
        argv = ["--help"]
    run(parse_config(argv, defaults=defaults, recipe=name))
    return 0


@command("train", help="Fine-tune a model (same flags as recipes/finetune.py).", passthrough=True)
def train(args: argparse.Namespace) -> int:
    """Fine-tune one model; every flag is passed to recipes/finetune.py's config parser.

    Example:
      hf-ser train --config recipes/configs/wav2vec2_base_attentive.yaml --corpus emodb --data_dir data/emodb
    Run `hf-ser train --help` for the recipe's flags.
    """
    from ..training import run_finetune

    return _run_recipe("train", run_finetune, args.rest)


@command(
    "crossval",
    help="Cross-validate over speaker folds (same flags as recipes/crossval.py).",
    passthrough=True,
)
def crossval(args: argparse.Namespace) -> int:
    """Cross-validate a recipe config over speaker-independent folds; flags as recipes/crossval.py.

    Example:
      hf-ser crossval --config recipes/configs/wav2vec2_base_attentive.yaml --corpus emodb \\
        --data_dir data/emodb --folds 5
    """
    from ..training import run_crossval

    return _run_recipe("crossval", run_crossval, args.rest)


@command("hpo", help="Hyper-parameter search (same flags as recipes/hpo.py).", passthrough=True)
def hpo(args: argparse.Namespace) -> int:
    """Optuna search over a recipe config; flags as recipes/hpo.py.

    Writes <output_dir>/best_config.yaml (cross-validate it with `hf-ser crossval --config`).

    Example:
      hf-ser hpo --config recipes/configs/reslstm_sa_h64.yaml --corpus emodb --data_dir data/emodb \\
        --output_dir outputs/hpo --n_trials 100 --use_validation true
    """
    from ..training import run_hpo

    return _run_recipe("hpo", run_hpo, args.rest)


@command(
    "distill",
    help="Distil a teacher into a small student (same flags as recipes/distill.py).",
    passthrough=True,
)
def distill(args: argparse.Namespace) -> int:
    """Distil a teacher checkpoint (or an ensemble) into a small student; flags as recipes/distill.py.

    The student defaults to the Wav2Small-style model (--model_type student) and writes to
    outputs/distill; --teacher DIR is required (a YAML list of directories makes an ensemble).

    Example:
      hf-ser distill --config recipes/configs/wav2small_distill.yaml --teacher outputs/w2v2_emodb \\
        --data_dir data/emodb --output_dir outputs/wav2small_emodb
    """
    from ..training.distill import DISTILL_DEFAULTS, run_distill  # not via .training: circular import

    return _run_recipe("distill", run_distill, args.rest, defaults=DISTILL_DEFAULTS)


# ----------------------------------------------------------------------------------------------------
# label (flags and run in app/label.py)
# ----------------------------------------------------------------------------------------------------
def _label_arguments(parser: argparse.ArgumentParser) -> None:
    from .label import add_label_arguments

    add_label_arguments(parser)


@command(
    "label",
    help="Label a corpus into Parquet shards (resumable; `accelerate launch` for many processes).",
    arguments=_label_arguments,
)
def label(args: argparse.Namespace) -> int:
    """Label every clip of SOURCE (folder, .csv/.jsonl manifest, saved dataset, Hub dataset) into Parquet
    shards under --out; a re-run labels only the missing shards; bad files become rows with an `error`.

    Examples:
      hf-ser label clips/ --out labels/clips
      accelerate launch --multi_gpu --num_processes 2 -m hf_ser label clips/ --out labels/clips
    """
    from .label import run_label

    return run_label(args)


# ----------------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------------
def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from .demo import add_demo_arguments

    add_demo_arguments(parser)


@command("demo", help="Run the Gradio demo (the Space's app) locally.", arguments=_demo_arguments)
def demo(args: argparse.Namespace) -> int:
    """Run the Gradio app of the Space (hf_ser.app.demo, also used by spaces/app.py) on this machine.

    It listens on 127.0.0.1 (this machine only) unless --host says otherwise; stop it with Ctrl+C.
    Needs the gradio extra: pip install "hf_ser[gradio]".

    Examples:
      hf-ser demo
      hf-ser demo --model ./my_checkpoint --port 7861
    """
    from .demo import run_demo

    return run_demo(args)


# ----------------------------------------------------------------------------------------------------
# publish / publish-space (hf_ser.hub)
# ----------------------------------------------------------------------------------------------------
def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    from .publish import add_publish_arguments

    add_publish_arguments(parser)


@command("publish", help="Publish a trained model to the Hugging Face Hub (checked first).",
         arguments=_publish_arguments)  # fmt: skip
def publish(args: argparse.Namespace) -> int:
    """Publish a run directory as a Hub model repo: weights, feature extractor, the current modelling code
    (for trust_remote_code), model card, ONNX export and LoRA adapter. The staged folder is checked
    first (loads with and without hf_ser, card validates, no pickles); --dry-run stops there.

    The token comes from --token, HF_TOKEN or `hf auth login`.

    Examples:
      hf-ser publish outputs/w2v2_emodb me/ser-emodb --dry-run
      hf-ser publish outputs/w2v2_emodb me/ser-emodb --private
    """
    from .publish import run_publish

    return run_publish(args)


def _publish_space_arguments(parser: argparse.ArgumentParser) -> None:
    from .publish import add_publish_space_arguments

    add_publish_space_arguments(parser)


@command("publish-space", help="Publish the Gradio demo as a Hugging Face Space.",
         arguments=_publish_space_arguments)  # fmt: skip
def publish_space(args: argparse.Namespace) -> int:
    """Publish the Gradio demo (spaces/) as a Hub Space serving --model (a Hub id; default: built-in).

    The Space ships a copy of this hf_ser; the staged folder is checked (header, app builds) first,
    and --dry-run stops there.

    Examples:
      hf-ser publish-space me/ser-demo --model me/ser-emodb --dry-run
      hf-ser publish-space me/ser-demo --model me/ser-emodb
    """
    from .publish import run_publish_space

    return run_publish_space(args)


# ----------------------------------------------------------------------------------------------------
# report (hf_ser.evaluation)
# ----------------------------------------------------------------------------------------------------
def _report_arguments(parser: argparse.ArgumentParser) -> None:
    from .report import add_report_arguments

    add_report_arguments(parser)


@command("report", help="Evaluate a model: per-sex/per-speaker, robustness; report.json/.md/.html.",
         arguments=_report_arguments)  # fmt: skip
def report(args: argparse.Namespace) -> int:
    """Evaluate a model on a corpus and write report.json, report.md, report.html and figures.

    Examples:
      hf-ser report --corpus emodb --data-dir data/emodb --out reports/emodb
      hf-ser report --model ./ckpt --corpus urdu --data-dir data/urdu --perturb noise,telephone --out rep
    """
    from .report import run_report

    return run_report(args)


# ----------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------
def chosen_command(argv: list[str]) -> Optional[str]:
    """The subcommand named in ``argv`` (the first word that is one), or ``None``."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per registered command.

    With ``only``, just that sub-parser gets its arguments: the others are listed by name and help, so
    ``hf-ser --help`` and ``hf-ser predict --help`` import nothing the other commands' flags need.
    """
    parser = argparse.ArgumentParser(
        prog="hf-ser",
        description="Speech emotion recognition with hf_ser. See `hf-ser COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"hf_ser {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument(
        "--verbose", action="store_true", help="show transformers' logs and loading progress bars"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, spec in COMMANDS.items():
        sub = subparsers.add_parser(
            name,
            help=spec.help,
            description=spec.description or spec.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=not spec.passthrough,
        )
        if spec.arguments is not None and only in (None, name):
            spec.arguments(sub)
        sub.set_defaults(_command=spec)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Run ``hf-ser`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=chosen_command(argv) or "")
    args, extras = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if extras and not args._command.passthrough:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    args.rest = extras
    if not args.verbose:
        _quiet_transformers()
    set_verbose(args.verbose)
    try:
        return args._command.run(args)
    except KeyboardInterrupt:
        print("hf-ser: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure becomes one line on stderr (the traceback with --debug)
        if args.debug:
            raise
        print(f"hf-ser: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _quiet_transformers() -> None:
    """Hide transformers' weight-loading progress bars and info logs on the command line."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


if __name__ == "__main__":
    sys.exit(main())

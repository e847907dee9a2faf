"""The ``hf-ser label`` command: label a corpus into Parquet shards, on one process or many.

``hf_ser/app/cli.py`` registers it (:func:`add_label_arguments`, :func:`run_label`). Examples::

    hf-ser label clips/ --out labels/                              # one process
    accelerate launch --num_processes 2 -m hf_ser label clips/ --out labels/   # two (CPU: add --cpu)
    hf-ser label manifest.csv --out labels/ --chunk-length-s 10   # long audio, one row per window
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

HELP = "Label a corpus into Parquet shards (resumable; run under `accelerate launch` for many processes)."
DESCRIPTION = """Label every clip of SOURCE with an hf_ser model into Parquet shards under --out.

SOURCE is a folder of audio files, a .csv / .jsonl manifest (--path-column, --id-column), a directory
written by datasets' save_to_disk (--audio-column), or a Hub dataset name (read with streaming=True).
A re-run with the same settings labels only the missing shards. Under `accelerate launch` every process
takes every N-th shard; bad files become rows with an `error` reason.

Example:
  accelerate launch --cpu --num_processes 2 -m hf_ser label clips/ --out labels/
"""

__all__ = ["DESCRIPTION", "HELP", "add_label_arguments", "main", "run_label"]


def add_label_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``label`` options to ``parser``."""
    parser.add_argument(
        "source", help="folder, .csv/.jsonl manifest, saved dataset directory or Hub dataset name"
    )
    parser.add_argument("--out", required=True, help="output directory of the Parquet shards")
    parser.add_argument(
        "--model", default=None, help="checkpoint directory or Hub id (default: built-in model)"
    )
    parser.add_argument("--shard-size", type=int, default=64, help="clips per shard, the unit of resume (64)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (8)")
    parser.add_argument(
        "--num-workers", type=int, default=0, help="DataLoader decoding workers per process (0)"
    )
    parser.add_argument("--chunk-length-s", type=float, default=None, help="label long audio in windows")
    parser.add_argument("--stride-length-s", type=float, default=None, help="overlap of the windows")
    parser.add_argument("--embeddings", action="store_true", help="add the pooled embedding column")
    parser.add_argument("--audio-column", default="audio", help="audio column of a dataset (audio)")
    parser.add_argument("--path-column", default="path", help="path column of a manifest (path)")
    parser.add_argument(
        "--id-column", default=None, help="id column of a manifest or dataset (default: path)"
    )
    parser.add_argument("--split", default="train", help="split of a Hub dataset (train)")
    parser.add_argument("--dtype", default="float32", help="float32 (default), bfloat16, float16 or auto")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars and summary")


def run_label(args: argparse.Namespace) -> int:
    """Run :func:`hf_ser.labelling.label` with the parsed flags; exit code 0 (failed clips are rows)."""
    from ..labelling import label

    label(
        args.source,
        args.out,
        model=args.model,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        chunk_length_s=args.chunk_length_s,
        stride_length_s=args.stride_length_s,
        return_embeddings=args.embeddings,
        audio_column=args.audio_column,
        path_column=args.path_column,
        id_column=args.id_column,
        split=args.split,
        dtype=args.dtype,
        progress=not args.no_progress,
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m hf_ser.app.label SOURCE --out DIR``: the command on its own (as ``hf-ser label``)."""
    parser = argparse.ArgumentParser(
        prog="hf-ser label", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_label_arguments(parser)
    return run_label(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

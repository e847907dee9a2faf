"""`hf-ser publish` and `hf-ser publish-space`: the command lines of :mod:`hf_ser.hub`."""

from __future__ import annotations

import argparse

from ..hub import PublishResult, publish, publish_space


def add_publish_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `hf-ser publish RUN_DIR REPO_ID` (mirrors :func:`publish`)."""
    parser.add_argument("run_dir", help="run directory (save_pretrained model or LoRA adapter)")
    parser.add_argument("repo_id", help="Hub model repo, user/name")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true", help="stage and check only (nothing is uploaded)")
    parser.add_argument("--no-onnx", dest="include_onnx", action="store_false", help="do not ship onnx/")
    parser.add_argument("--folder", default=None, help="staging folder (dry runs: RUN_DIR/hub_dry_run)")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    return parser


def add_publish_space_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `hf-ser publish-space REPO_ID` (mirrors :func:`publish_space`)."""
    parser.add_argument("repo_id", help="Hub Space repo, user/name")
    parser.add_argument("--model", default=None, help="Hub model id to serve (default: built-in)")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    parser.add_argument("--dry-run", action="store_true", help="stage and check only (nothing is uploaded)")
    parser.add_argument("--folder", default=None, help="staging folder")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    return parser


def print_result(result: PublishResult) -> None:
    action = "Dry run: staged" if result.dry_run else "Uploaded"
    where = f" in {result.folder}" if result.dry_run else ""
    print(f"{action} {len(result.files)} files for {result.repo_id}{where}")
    for name, what in result.checks.items():
        print(f"  ok {name}: {what}")
    for name, why in result.skipped.items():
        print(f"  skipped {name}: {why}")
    for key, value in result.space_variables.items():
        print(f"  Space variable {key}={value}")
    if result.url:
        print(result.url)


def run_publish(args: argparse.Namespace) -> int:
    """`hf-ser publish`: :func:`publish` with the parsed flags; prints what was staged and checked."""
    print_result(publish(args.run_dir, args.repo_id, private=args.private, dry_run=args.dry_run,
                          include_onnx=args.include_onnx, token=args.token, folder=args.folder))  # fmt: skip
    return 0


def run_publish_space(args: argparse.Namespace) -> int:
    """`hf-ser publish-space`: :func:`publish_space` with the parsed flags."""
    print_result(publish_space(args.repo_id, args.model, private=args.private, dry_run=args.dry_run,
                                token=args.token, folder=args.folder))  # fmt: skip
    return 0

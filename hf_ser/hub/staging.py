"""The one publishing path of :mod:`hf_ser.hub`: stage a folder, check it, then (unless a dry run) upload it.

:func:`hf_ser.hub.publish` (a model) and :func:`hf_ser.hub.publish_space` (the demo Space) differ only in
what they stage and check; both go through :func:`staging_folder` and :func:`upload`, and both return a
:class:`PublishResult`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

REPO_ID_PATTERN = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")
"""What a Hub repo id looks like: ``name`` or ``user/name`` (letters, digits, ``-``, ``_``, ``.``)."""


@dataclass
class PublishResult:
    """What :func:`publish` / :func:`publish_space` staged, checked and (unless a dry run) uploaded.

    Args:
        repo_id (`str`): target repository.
        folder (`Path`): the staged folder (kept for dry runs; a deleted temporary folder otherwise).
        files (`list[str]`): staged files, relative to `folder`, sorted.
        skipped (`dict[str, str]`): run files left out, with the reason.
        checks (`dict[str, str]`): each check that passed, with what it verified.
        dry_run (`bool`): nothing was uploaded.
        url (`str`, *optional*): commit URL of the upload.
        space_variables (`dict[str, str]`): Space variables set (or, in a dry run, to set).
    """

    repo_id: str
    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    dry_run: bool = True
    url: Optional[str] = None
    space_variables: dict[str, str] = field(default_factory=dict)



def check_repo_id(repo_id: Any) -> str:
    """Return `repo_id` if it is a valid Hub repo id; else raise `ValueError` naming the expected form."""
    if not isinstance(repo_id, str) or not REPO_ID_PATTERN.match(repo_id) or ".." in repo_id:
        raise ValueError(
            f"repo_id must look like 'user/name' (letters, digits, '-', '_', '.'), got {repo_id!r}."
        )
    return repo_id


def prepare_folder(folder: Optional[PathLike], default: Path) -> Path:
    """An empty staging folder; the default dry-run folder is ours to wipe, a user's folder must be empty."""
    path = Path(folder) if folder is not None else default
    if path.exists() and any(path.iterdir()):
        if folder is not None:
            raise ValueError(f"Staging folder {path} is not empty; pass an empty or new folder.")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path



def listing(folder: Path) -> list[str]:
    """Every file under `folder`, relative to it, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@contextlib.contextmanager
def staging_folder(folder: Optional[PathLike], dry_run_default: Path, dry_run: bool) -> Iterator[Path]:
    """The folder to stage into: `folder` if given (must be empty), `dry_run_default` for a dry run (kept
    for inspection), else a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        yield prepare_folder(folder, dry_run_default if dry_run else Path(tmp) / "stage")


def upload(
    result: PublishResult,
    *,
    repo_type: str,
    token: Optional[str],
    private: bool,
    commit_message: str,
    space_sdk: Optional[str] = None,
) -> PublishResult:
    """Create `result.repo_id` (if needed), set its Space variables and upload the staged folder; the
    commit URL goes to `result.url`. A thin wrapper over huggingface_hub's `HfApi`."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    extra = {"space_sdk": space_sdk} if space_sdk else {}
    api.create_repo(result.repo_id, private=private, exist_ok=True, repo_type=repo_type, **extra)
    for key, value in result.space_variables.items():
        api.add_space_variable(result.repo_id, key, value, description="Model served by the hf_ser demo")
    commit = api.upload_folder(
        repo_id=result.repo_id, folder_path=result.folder, repo_type=repo_type, commit_message=commit_message
    )
    result.url = getattr(commit, "commit_url", None) or str(commit)
    return result


def run_offline_check(
    script: str,
    folder: Path,
    *,
    cwd: Path,
    failure: str,
    env: Optional[dict[str, str]] = None,
    unset: tuple[str, ...] = (),
) -> str:
    """Run ``python -c script <folder>`` offline in a fresh interpreter (so the installed hf_ser cannot mask
    what the staged folder lacks), with `env` added and the variables `unset` removed; return its stdout,
    or raise `ValueError` starting with `failure` and ending with the end of its stderr."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})}
    for name in unset:
        environment.pop(name, None)
    process = subprocess.run(
        [sys.executable, "-c", script, str(folder.resolve())],
        capture_output=True, text=True, env=environment, cwd=cwd, timeout=300,
    )  # fmt: skip
    if process.returncode != 0:
        raise ValueError(f"{failure}:\n{process.stderr[-3000:]}")
    return process.stdout

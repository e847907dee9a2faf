"""Keep local paths (and with them user names) out of what is uploaded to the Hub.

A run's ``train_config.yaml`` records ``data_dir`` and ``output_dir`` as given on the command line, often
absolute (``/home/alice/corpora/emodb``); configs may record a local backbone path. Before a staged folder
is checked, :func:`redact_local_paths` replaces every absolute path found as a value in its JSON and YAML
files by :data:`REDACTED`; :func:`find_local_paths` (run by the publishing checks) then fails the dry run
if one is left anywhere, including the text of the rendered card. Relative paths stay: they reveal
nothing about the machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REDACTED = "<local>"
"""What an absolute local path is replaced by."""

STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
TEXT_SUFFIXES = (".md", ".txt")

_ABSOLUTE = re.compile(r"^(?:~|/|\\\\|[A-Za-z]:[\\/])")
"""A string value that starts like an absolute path: POSIX root or home, UNC share, Windows drive."""
_IN_TEXT = re.compile(
    r"(?<![\w:/.~-])(?:~/|/(?:home|Users|root|tmp|work|mnt|media|scratch|srv|data|var|opt)/|[A-Za-z]:\\)\S*"
)
"""An absolute path inside free text (URLs are excluded by the look-behind on ``:`` and ``/``)."""


def is_local_path(value: Any) -> bool:
    """Whether ``value`` is a string holding an absolute local path (one line, no spaces around)."""
    return isinstance(value, str) and len(value) > 1 and "\n" not in value and bool(_ABSOLUTE.match(value))


def redact_value(value: Any) -> tuple[Any, int]:
    """``value`` with every absolute path inside (nested dicts and lists too) replaced by
    :data:`REDACTED`, and how many were replaced."""
    if is_local_path(value):
        return REDACTED, 1
    if isinstance(value, dict):
        items = [(key, *redact_value(item)) for key, item in value.items()]
        return {key: item for key, item, _ in items}, sum(count for *_, count in items)
    if isinstance(value, list):
        items = [redact_value(item) for item in value]
        return [item for item, _ in items], sum(count for _, count in items)
    return value, 0


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _dump(path: Path, data: Any) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def redact_local_paths(folder: Path) -> list[str]:
    """Rewrite the JSON / YAML files under ``folder`` without absolute paths; return the files changed
    (relative to ``folder``)."""
    changed = []
    for path in sorted(folder.rglob("*")):
        if not (path.is_file() and path.suffix in STRUCTURED_SUFFIXES):
            continue
        redacted, count = redact_value(_load(path))
        if count:
            _dump(path, redacted)
            changed.append(str(path.relative_to(folder)))
    return changed


def _paths_in(value: Any, where: str) -> list[str]:
    """``"where.key: path"`` for every absolute path inside a loaded JSON / YAML value."""
    if is_local_path(value):
        return [f"{where}: {value}"]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _paths_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _paths_in(item, f"{where}[{index}]")]
    return []


def find_local_paths(folder: Path) -> list[str]:
    """Every absolute local path left in the staged JSON / YAML values and card / text files."""
    found = []
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_file() and path.suffix in STRUCTURED_SUFFIXES:
            found += _paths_in(_load(path), name)
        elif path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{name}: {match.group(0)}" for match in _IN_TEXT.finditer(text)]
    return found


def check_no_local_paths(folder: Path) -> str:
    """Raise a `ValueError` listing the absolute paths left in ``folder``; else describe the check."""
    found = find_local_paths(folder)
    if found:
        raise ValueError(
            f"{folder} would upload local paths (user names, machine layout): {found[:5]}"
            + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            + "; make them relative or remove them."
        )
    return f"no absolute local paths in JSON/YAML values or text files (redacted to {REDACTED!r})"


__all__ = ["REDACTED", "check_no_local_paths", "find_local_paths", "is_local_path", "redact_local_paths"]

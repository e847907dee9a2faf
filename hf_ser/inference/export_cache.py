"""On-disk cache of ``backend="auto"``: ONNX exports and backend decisions, keyed by model content.

Layout: ``<cache root>/exports/<key>/`` where ``key`` hashes the model (its weights and config, see
:func:`model_hash`), the backend (``"onnx"``) and the hf_ser version. The directory is an ordinary export
directory (:func:`hf_ser.export.to_onnx`: ``model.onnx``, ``model_quantized.onnx``, ``config.json``,
``preprocessor_config.json``) plus one ``decision-<device>.json`` per device kind, which records the backend
and precision the rule of :mod:`hf_ser.inference.auto_backend` chose. A second process on the same weights
reuses both: no export, no calibration. Change one weight and the key changes.

Writes are atomic (a temporary sibling, then ``os.replace``), so concurrent processes never see a half
written export: the loser of a race discards its copy. The cache root is ``$HF_SER_CACHE`` or
``~/.cache/hf_ser``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from ..version import __version__

CACHE_ENV = "HF_SER_CACHE"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
CHECKPOINT_FILES = ("config.json", "preprocessor_config.json")


def cache_root() -> Path:
    """``$HF_SER_CACHE`` if set, else ``~/.cache/hf_ser``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "hf_ser"


def hash_checkpoint_dir(directory: Union[str, os.PathLike]) -> str:
    """SHA-256 over a checkpoint directory's weight files, ``config.json`` and ``preprocessor_config.json``
    (names and bytes, sorted by name): the same files give the same hash in any process."""
    digest = hashlib.sha256()
    for path in sorted(Path(directory).iterdir()):
        if path.is_file() and (path.suffix in WEIGHT_SUFFIXES or path.name in CHECKPOINT_FILES):
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()


def hash_model_object(model: Any, feature_extractor: Any) -> str:
    """SHA-256 over a model object's state dict (names, dtypes, shapes, bytes), its config and the feature
    extractor's settings. Hashing a wav2vec2-base-sized model (95 M parameters) takes about half a second,
    far less than exporting it, so in-memory models share the on-disk cache too."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{array.dtype}:{tuple(array.shape)}".encode())
        digest.update(array.view(-1).view(_byte_dtype()).numpy().tobytes())
    digest.update(model.config.to_json_string(use_diff=False).encode())
    to_json = getattr(feature_extractor, "to_json_string", None)
    digest.update((to_json() if to_json else type(feature_extractor).__name__).encode())
    return digest.hexdigest()


def _byte_dtype() -> Any:
    import torch

    return torch.uint8


def model_hash(model: Any, feature_extractor: Any, source_dir: Optional[Union[str, os.PathLike]]) -> str:
    """Hash of the checkpoint directory when the model was loaded from one (plus the feature extractor in
    use, which may override the saved one), else of the model object."""
    if source_dir is not None and os.path.isdir(source_dir):
        to_json = getattr(feature_extractor, "to_json_string", None)
        extractor = to_json() if to_json else type(feature_extractor).__name__
        return hashlib.sha256(f"{hash_checkpoint_dir(source_dir)}|{extractor}".encode()).hexdigest()
    return hash_model_object(model, feature_extractor)


def export_dir_for(weights_hash: str, backend: str = "onnx") -> Path:
    """The cache directory of ``(model hash, backend, hf_ser version)``."""
    key = hashlib.sha256(f"{weights_hash}|{backend}|{__version__}".encode()).hexdigest()[:32]
    return cache_root() / "exports" / key


def ensure_export(directory: Path, write: Callable[[Path], Any]) -> Path:
    """Return ``directory``, first creating it atomically with ``write(tmp_dir)`` if it does not exist."""
    if (directory / "config.json").is_file():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
    try:
        write(tmp)
        os.replace(tmp, directory)
    except OSError:
        if not (directory / "config.json").is_file():  # not a lost race: a real failure
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def ensure_file(path: Path, write: Callable[[Path], Any]) -> Path:
    """Return ``path``, first creating it atomically with ``write(tmp_path)`` if it does not exist."""
    if path.is_file():
        return path
    handle, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp_name))
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path


def read_decision(directory: Path, device_kind: str, rule: dict) -> Optional[dict]:
    """The decision stored for ``device_kind``, or ``None`` when absent, unreadable or made under another
    rule (other tolerances or candidates)."""
    path = directory / f"decision-{device_kind}.json"
    try:
        decision = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return decision if decision.get("rule") == rule else None


def write_decision(directory: Path, device_kind: str, decision: dict) -> None:
    """Store ``decision`` atomically as ``decision-<device_kind>.json``."""
    handle, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    with os.fdopen(handle, "w") as stream:
        json.dump(decision, stream, indent=2, default=_json_default)
    os.replace(tmp_name, directory / f"decision-{device_kind}.json")


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


__all__ = [
    "CACHE_ENV",
    "cache_root",
    "ensure_export",
    "ensure_file",
    "export_dir_for",
    "hash_checkpoint_dir",
    "hash_model_object",
    "model_hash",
    "read_decision",
    "write_decision",
]

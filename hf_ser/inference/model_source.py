"""Where a ``model=`` string points, decided before anything is loaded: offline-first errors.

A string that looks like a local path but names no folder fails at once ("no such folder") instead of
being sent to the Hub, where it would spend ~20 s in retries before failing with a connection error. A
Hub id with ``HF_HUB_OFFLINE`` set, or with the Hub unreachable, is looked up in the local cache only,
and the error says which of the two happened. ONNX export folders (``model.onnx`` without
``model.safetensors``) are recognised so the pipeline runs them with the ONNX backend without a flag.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Union
from urllib.parse import urlparse

ONNX_FILES = ("model.onnx", "model_quantized.onnx")
FILE_SUFFIXES = frozenset(
    {".onnx", ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".json", ".yaml", ".yml", ".wav", ".flac"}
)
"""Suffixes that make a model string a file path (a Hub id may contain dots, as in ``v1.5``)."""
PROBE_TIMEOUT_S = 2.0


class ModelNotFoundError(ValueError):
    """The model string names no local folder and no Hub model that can be reached or is cached."""


def looks_like_local_path(name: str) -> bool:
    """True for ``./x``, ``../x``, ``/x``, ``~/x``, ``x/y`` whose parent folder exists, and ``x.onnx``."""
    if name.startswith(("./", "../", "/", "~")) or (os.altsep and name.startswith(os.altsep)):
        return True
    path = Path(os.path.expanduser(name))
    if os.sep in name and path.parent.is_dir():
        return True
    return path.suffix.lower() in FILE_SUFFIXES


def is_onnx_export(path: Union[str, os.PathLike]) -> bool:
    """A folder written by ``hf-ser export``: an ONNX graph and no PyTorch weights."""
    folder = Path(os.path.expanduser(os.fspath(path)))
    return (
        folder.is_dir()
        and any((folder / name).is_file() for name in ONNX_FILES)
        and not (folder / "model.safetensors").is_file()
    )


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub reads it."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the Hub endpoint opens within ``timeout`` seconds (DNS included)."""
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    address = (endpoint.hostname or "huggingface.co", endpoint.port or 443)
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)  # bounds a slow DNS lookup too
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def check_local_path(name: str) -> None:
    """Raise :class:`ModelNotFoundError` when ``name`` looks like a local path that does not exist."""
    path = Path(os.path.expanduser(name))
    if path.exists() and not path.is_dir():
        raise ModelNotFoundError(
            f"model={name!r} is a file; pass the checkpoint directory that holds config.json."
        )
    if path.is_dir() or not looks_like_local_path(name):
        return
    raise ModelNotFoundError(
        f"model={name!r}: no such folder ({path.resolve()}). Pass an existing checkpoint directory "
        "(or a Hub id like 'user/model')."
    )


def hub_lookup(name: str) -> dict[str, bool]:
    """Loading keywords for a Hub id: ``{}`` when the Hub can be asked, else cache-only lookup."""
    if hub_offline() or not hub_reachable():
        return {"local_files_only": True}
    return {}


def not_found_message(name: str, error: Exception, cache_only: bool) -> str:
    """The error for a Hub id that failed to load, saying whether the Hub was asked at all."""
    if hub_offline():
        why = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
    elif cache_only:
        why = "the Hub cannot be reached (no network?) and it is not in the local Hugging Face cache"
    else:
        why = str(error)
    if os.sep in name:
        why += f"; nor is there a local folder {name!r}"
    return f"Could not load model {name!r}: {why}. Pass a local checkpoint directory or a Hub id."

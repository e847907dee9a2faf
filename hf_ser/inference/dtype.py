"""Compute precision for inference: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``"auto"``.

``"auto"`` decides **once per model, before any user clip**, on calibration clips that ship with the
package (:data:`CALIBRATION_DIR`: three short synthetic speech clips, each used whole and cut to its first
second). The rule: where the hardware runs bf16 (CPUs with AVX512-BF16 / AMX, GPUs with bf16), each
calibration clip is run alone in fp32 and in bf16; bf16 is chosen only when on every clip

- the top-1 class is unchanged, and every class probability moves by at most :data:`SCORE_TOLERANCE`,
- every regression value (A/D/V) moves by at most :data:`REGRESSION_TOLERANCE`;

otherwise fp32. The decision is cached per model object and device (:func:`cached_auto_dtype`), so a
second pipeline on the same model does not calibrate again. After it, one precision serves every clip:
a clip's output does not depend on what the pipeline saw before, on call order or on threads, and no
user clip is ever run twice.

Reduced precision runs through ``torch.autocast`` (weights stay fp32; matmuls and convolutions run in
bf16), which keeps numerically delicate ops (softmax, layer norm, losses) in fp32.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import torch

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
_ALIASES = {
    "fp32": "float32",
    "float": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
}
REGRESSION_TOLERANCE = 0.02
"""Largest absolute change of a regression output (A/D/V, usually in [0, 1]) that bf16 may cause."""
SCORE_TOLERANCE = 0.02
"""Largest absolute change of a class probability that bf16 may cause on a calibration clip."""
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
"""Package data: the clips ``dtype="auto"`` decides on (see its README)."""
CALIBRATION_CUT_S = 1.0
"""Each calibration clip is also used cut to its first ``CALIBRATION_CUT_S`` seconds (a short input)."""


def parse_dtype(dtype: Union[str, torch.dtype, None]) -> str:
    """Normalise a user dtype (name, alias or ``torch.dtype``) to one of :data:`DTYPE_CHOICES`."""
    if dtype is None:
        return "auto"
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace("torch.", "")
    if not isinstance(dtype, str):
        raise ValueError(
            f"dtype must be a string or torch.dtype, got {dtype!r}; choose one of {DTYPE_CHOICES}."
        )
    name = _ALIASES.get(dtype.lower(), dtype.lower())
    if name not in DTYPE_CHOICES:
        raise ValueError(f"Unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_CHOICES)}.")
    return name


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 matmuls natively (CUDA bf16, or CPU AVX512-BF16 / AMX via oneDNN)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(torch.backends.mkldnn.is_available() and check is not None and check())
    return False


def autocast(device: torch.device, name: str) -> contextlib.AbstractContextManager:
    """Context manager that runs the forward pass in precision ``name`` (a no-op for float32)."""
    if name == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, name))


def resolve_dtype(dtype: Union[str, torch.dtype, None], device: torch.device) -> str:
    """Resolve the user's choice for ``device``: ``"auto"`` stays ``"auto"`` only where bf16 is supported.

    Raises:
        ValueError: float16 on a CPU, or bfloat16 on hardware without bf16 support.
    """
    name = parse_dtype(dtype)
    if name == "auto":
        return "auto" if bf16_supported(device) else "float32"
    if name == "float16" and device.type == "cpu":
        raise ValueError("dtype='float16' needs a GPU; use 'bfloat16', 'float32' or 'auto' on a CPU.")
    if name == "bfloat16" and not bf16_supported(device):
        raise ValueError(f"dtype='bfloat16' is not supported on {device}; use 'float32' or 'auto'.")
    return name


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def predictions_agree(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> bool:
    """True when ``candidate`` has the same top-1 classes, class probabilities within
    :data:`SCORE_TOLERANCE` and regression values within :data:`REGRESSION_TOLERANCE` of ``reference``."""
    if reference.get("class_logits") is not None:
        expected, actual = reference["class_logits"], candidate["class_logits"]
        if not np.array_equal(expected.argmax(-1), actual.argmax(-1)):
            return False
        if np.abs(_softmax(expected) - _softmax(actual)).max() > SCORE_TOLERANCE:
            return False
    if reference.get("regression") is not None:
        if np.abs(reference["regression"] - candidate["regression"]).max() > REGRESSION_TOLERANCE:
            return False
    return True


def calibration_clips(sampling_rate: int = 16000) -> list[np.ndarray]:
    """The calibration clips at ``sampling_rate``: each packaged clip whole and cut to its first second."""
    from ..data.audio import load_audio

    clips = []
    for path in sorted(CALIBRATION_DIR.glob("*.wav")):
        audio = load_audio(path, sampling_rate)
        clips.extend([audio, audio[: int(CALIBRATION_CUT_S * sampling_rate)]])
    if not clips:
        raise FileNotFoundError(f"No calibration clips in {CALIBRATION_DIR}; reinstall hf_ser.")
    return clips


def choose_auto_dtype(
    run_clip: Callable[[np.ndarray, str], dict[str, np.ndarray]], clips: list[np.ndarray]
) -> str:
    """Apply the ``"auto"`` rule: ``"bfloat16"`` when every clip agrees (:func:`predictions_agree`)
    between ``run_clip(clip, "float32")`` and ``run_clip(clip, "bfloat16")``, else ``"float32"``."""
    for clip in clips:
        if not predictions_agree(run_clip(clip, "float32"), run_clip(clip, "bfloat16")):
            return "float32"
    return "bfloat16"


_DECISIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DECISION_LOCK = threading.Lock()


def cached_auto_dtype(model: Any, device: torch.device, decide: Callable[[], str]) -> str:
    """The ``"auto"`` decision for ``model`` on ``device``: ``decide()`` runs once per model object and
    device (under a lock, so concurrent first calls calibrate once) and the answer is kept in memory."""
    with _DECISION_LOCK:
        per_model = _DECISIONS.setdefault(model, {})
        key = str(device)
        if key not in per_model:
            per_model[key] = decide()
        return per_model[key]


__all__ = [
    "CALIBRATION_DIR",
    "DTYPE_CHOICES",
    "REGRESSION_TOLERANCE",
    "SCORE_TOLERANCE",
    "autocast",
    "bf16_supported",
    "cached_auto_dtype",
    "calibration_clips",
    "choose_auto_dtype",
    "parse_dtype",
    "predictions_agree",
    "resolve_dtype",
]

"""Compute precision for inference: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``"auto"``.

``"auto"`` runs bf16 autocast where the hardware supports it (CPUs with AVX512-BF16 / AMX, and GPUs
with bf16), *but only if it does not change predictions*: :class:`DtypeCalibrator` runs the first
``calibration_clips`` clips the pipeline sees in both fp32 and bf16 and keeps bf16 only when every
top-1 class (and, for dimensional models, every value within :data:`REGRESSION_TOLERANCE`) is
unchanged; otherwise it falls back to fp32 for good. Results returned during calibration are the fp32
ones, so the choice never alters an answer the user has already seen.

Reduced precision runs through ``torch.autocast`` (weights stay fp32; matmuls and convolutions run in
bf16), which keeps numerically delicate ops (softmax, layer norm, losses) in fp32.
"""

from __future__ import annotations

import contextlib
from typing import Optional, Union

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


def predictions_agree(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> bool:
    """True when ``candidate`` has the same top-1 classes and regression values within tolerance."""
    if reference.get("class_logits") is not None:
        if not np.array_equal(reference["class_logits"].argmax(-1), candidate["class_logits"].argmax(-1)):
            return False
    if reference.get("regression") is not None:
        if np.abs(reference["regression"] - candidate["regression"]).max() > REGRESSION_TOLERANCE:
            return False
    return True


class DtypeCalibrator:
    """Decides between bf16 and fp32 for ``dtype="auto"`` from the first clips the pipeline processes.

    Args:
        calibration_clips (`int`, *optional*, defaults to 16): number of clips that must agree between
            fp32 and bf16 before bf16 is adopted.

    Attributes:
        decided (`str` or `None`): ``"bfloat16"`` or ``"float32"`` once calibration is over.
    """

    def __init__(self, calibration_clips: int = 16) -> None:
        self.calibration_clips = calibration_clips
        self.clips_checked = 0
        self.decided: Optional[str] = None

    def update(
        self, reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], num_clips: int
    ) -> None:
        """Record one batch run in both precisions; fall back to fp32 at the first disagreement."""
        if self.decided is not None:
            return
        if not predictions_agree(reference, candidate):
            self.decided = "float32"
            return
        self.clips_checked += num_clips
        if self.clips_checked >= self.calibration_clips:
            self.decided = "bfloat16"


__all__ = [
    "DTYPE_CHOICES",
    "REGRESSION_TOLERANCE",
    "DtypeCalibrator",
    "autocast",
    "bf16_supported",
    "parse_dtype",
    "predictions_agree",
    "resolve_dtype",
]

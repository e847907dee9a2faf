"""ONNX Runtime backend of the pipeline (``pipeline(export_dir, backend="onnx")``).

It wraps :class:`hf_ser.export.OnnxSERModel`, which is called like the torch model and returns a
``SERModelOutput``, so batching, output splitting and formatting are exactly those of
:class:`~.backends.TorchBackend`. Exports carry logits (and regression values), not embeddings or
pooling weights: ``return_embeddings`` / ``return_frame_weights`` raise a ``ValueError`` here.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Optional, Sequence, Union

import torch

from .backends import TorchBackend, model_task, needs_equal_length_batches
from .dtype import parse_dtype


class OnnxBackend(TorchBackend):
    """Runs an export directory written by :func:`hf_ser.export.to_onnx` on ONNX Runtime (CPU, fp32 or int8).

    Args:
        export_dir (`str` or `os.PathLike`): the export directory (``model.onnx`` and/or
            ``model_quantized.onnx``, ``config.json``, ``preprocessor_config.json``).
        feature_extractor (*optional*): overrides the exported feature extractor.
        dtype (`str`, *optional*, defaults to `"auto"`): ``"auto"`` / ``"float32"`` run ``model.onnx``
            (or the int8 file when it is the only one); ``"int8"`` runs ``model_quantized.onnx``.
        providers (*optional*): ONNX Runtime execution providers (default: CPU).
        num_threads (`int`, *optional*): intra-op threads of the session (inter-op 1); onnxruntime's default
            when `None`.
    """

    def __init__(
        self,
        export_dir: Union[str, os.PathLike],
        feature_extractor: Any = None,
        dtype: Any = "auto",
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
    ) -> None:
        from ..export.onnx_runtime import OnnxSERModel

        if not os.path.isdir(export_dir):
            raise ValueError(f"backend='onnx' needs an export directory (hf-ser export), got {export_dir!r}.")
        quantized: Optional[bool] = True if dtype == "int8" else None
        if dtype != "int8" and parse_dtype(dtype) not in ("auto", "float32"):
            raise ValueError(f"backend='onnx' runs float32 or int8 exports; got dtype={dtype!r}.")
        try:
            model = OnnxSERModel.from_pretrained(
                export_dir, quantized=quantized, providers=providers or None, num_threads=num_threads
            )
        except FileNotFoundError as error:
            raise ValueError(str(error)) from error
        self.device = torch.device("cpu")
        self.model = model
        self.feature_extractor = feature_extractor or model.feature_extractor
        self.config = model.config
        self.sampling_rate = int(getattr(self.feature_extractor, "sampling_rate", 16000))
        self.task = model_task(self.config)
        self.dtype_setting = "int8" if dtype == "int8" else "float32"
        self.equal_length_batches = needs_equal_length_batches(model)

    def _precision(self, precision: str) -> contextlib.AbstractContextManager:
        """ONNX Runtime runs the graph as exported: no autocast."""
        return contextlib.nullcontext()


__all__ = ["OnnxBackend"]

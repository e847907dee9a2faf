"""One implementation of running an exported hf_ser ONNX graph: numpy in, numpy out (no torch).

:class:`OnnxSession` finds ``model.onnx`` / ``model_quantized.onnx`` in an export directory written by
:func:`hf_ser.export.to_onnx`, opens it with onnxruntime and runs ``(input_values, attention_mask)``
batches. The torch-returning :class:`hf_ser.export.OnnxSERModel` is a thin layer on
top of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

ONNX_FILE = "model.onnx"
QUANTIZED_ONNX_FILE = "model_quantized.onnx"


def find_onnx_file(export_dir: Union[str, os.PathLike], quantized: Optional[bool] = None) -> Path:
    """The ONNX file to run: ``quantized=True`` the int8 file, ``False`` the float32 one, ``None`` the
    float32 file when present, else the int8 one. Raises ``FileNotFoundError`` naming the fix."""
    export_dir = Path(export_dir)
    candidates = {True: [QUANTIZED_ONNX_FILE], False: [ONNX_FILE], None: [ONNX_FILE, QUANTIZED_ONNX_FILE]}
    for name in candidates[quantized]:
        if (export_dir / name).is_file():
            return export_dir / name
    raise FileNotFoundError(
        f"No {' or '.join(candidates[quantized])} in {export_dir}; write one with "
        "hf_ser.export.to_onnx(model, export_dir" + (", quantize='int8')." if quantized else ").")
    )


class OnnxSession:
    """An onnxruntime session over an hf_ser export (CPU by default).

    Args:
        session: the `onnxruntime.InferenceSession`.

    Attributes:
        input_names, output_names: the graph's input and output names (``logits`` and, for multitask
            models, ``regression``).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input_names = [node.name for node in session.get_inputs()]
        self.output_names = [node.name for node in session.get_outputs()]

    @classmethod
    def from_file(
        cls,
        onnx_path: Union[str, os.PathLike],
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
    ) -> OnnxSession:
        """Open ``onnx_path``; ``num_threads`` sets the intra-op threads (onnxruntime's default if None) and
        then one inter-op thread (the graph is a chain of ops: parallelism is within each op)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
        )
        return cls(session)

    def run(
        self, input_values: np.ndarray, attention_mask: Optional[np.ndarray] = None
    ) -> dict[str, np.ndarray]:
        """Run one batch; returns ``{output name: array}`` (``logits`` ``(batch, labels)``, ...)."""
        values = np.ascontiguousarray(input_values, dtype=np.float32)
        if attention_mask is None:
            attention_mask = np.ones(values.shape[:2], dtype=np.int64)
        feeds = {
            "input_values": values,
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds), strict=True))


__all__ = ["ONNX_FILE", "QUANTIZED_ONNX_FILE", "OnnxSession", "find_onnx_file"]

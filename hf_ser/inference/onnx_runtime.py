"""Old home of :class:`hf_ser.export.OnnxSERModel` (the ONNX Runtime model that behaves like the torch one).

It moved to :mod:`hf_ser.export.onnx_runtime` when the exporter went below the pipeline in the package's
layers (``backend="auto"`` exports models itself); this name stays for existing imports.
"""

from ..export.onnx_runtime import OnnxSERModel

__all__ = ["OnnxSERModel"]

"""ONNX export of hf_ser models and an ONNX Runtime runner (needs the ``onnx`` extra).

- :func:`to_onnx`: model object or checkpoint -> ``model.onnx`` (+ ``model_quantized.onnx``), config and
  feature extractor in one directory; dynamic batch and time axes, attention mask input.
- :class:`OnnxSERModel`: loads that directory and returns ``SERModelOutput`` like the torch model.
"""

from .onnx import (
    ONNX_FILE,
    QUANTIZED_ONNX_FILE,
    check_exportable,
    default_feature_extractor,
    quantize_int8,
    to_onnx,
)
from .onnx_runtime import OnnxSERModel

__all__ = [
    "ONNX_FILE",
    "QUANTIZED_ONNX_FILE",
    "OnnxSERModel",
    "check_exportable",
    "default_feature_extractor",
    "quantize_int8",
    "to_onnx",
]

"""Torch-free inference: numpy + soundfile + soxr + onnxruntime only (``pip install "hf-ser[runtime]"``).

```python
from hf_ser.runtime import load

classify = load()                      # the built-in model (its model.onnx ships with the package)
classify("clip.wav")                   # {"label": ..., "scores": {...}}, as hf_ser.pipeline()
classify("long.wav", chunk_length_s=10)  # windows read from disk one batch at a time
load("exported_dir")                   # any hf_ser.export.to_onnx directory
```

Nothing here imports torch or transformers (``tests/test_runtime.py`` checks it in a subprocess where
both are unimportable).
"""

from .predictor import DEFAULT_MODEL_DIR, RuntimePipeline, load
from .results import format_prediction, softmax
from .session import ONNX_FILE, QUANTIZED_ONNX_FILE, OnnxSession, find_onnx_file
from .spec import ModelSpec

__all__ = [
    "DEFAULT_MODEL_DIR",
    "ONNX_FILE",
    "QUANTIZED_ONNX_FILE",
    "ModelSpec",
    "OnnxSession",
    "RuntimePipeline",
    "find_onnx_file",
    "format_prediction",
    "load",
    "softmax",
]

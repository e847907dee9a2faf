"""Building blocks of :func:`hf_ser.pipeline`, one job per module.

- :mod:`.inputs`: accepted input forms -> validated :class:`~.inputs.AudioSource` items;
- windows over long audio (read lazily from files) and their aggregation live in :mod:`hf_ser.data.windows`,
  shared with the torch-free :mod:`hf_ser.runtime`;
- :mod:`.batching`: length-sorted batches (a clip's output does not depend on its batch);
- :mod:`.dtype`: fp32 / bf16 choice, decided once per model on packaged calibration clips;
- :mod:`.backends`: PyTorch execution (``onnx_backend``: ONNX Runtime execution).
- :mod:`.streaming`: piece-by-piece input and running predictions (``SERPipeline.stream``).
"""

from .inputs import AudioSource, UnsupportedInputError, normalize_inputs

__all__ = ["AudioSource", "UnsupportedInputError", "normalize_inputs"]

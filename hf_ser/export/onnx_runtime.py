"""Run an exported hf_ser model with ONNX Runtime, behaving like the torch model.

:class:`OnnxSERModel` loads an export directory written by :func:`hf_ser.export.to_onnx` (ONNX file,
``config.json``, feature extractor) and is called like the torch model: ``model(**inputs)`` with the
feature extractor's output returns a :class:`~hf_ser.models.outputs.SERModelOutput` (``logits`` and
``regression`` as torch tensors). :meth:`OnnxSERModel.predict` goes from raw 16 kHz arrays to outputs.

The graph itself runs in :class:`hf_ser.runtime.OnnxSession` (numpy only, shared with the torch-free
runtime); this class only adds the transformers config / feature extractor and torch tensors.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from ..auto import register_auto_classes
from ..models.outputs import SERModelOutput
from ..runtime.session import OnnxSession, find_onnx_file


class OnnxSERModel:
    """An exported hf_ser model on ONNX Runtime (CPU by default).

    Attributes:
        config: the model's transformers config (`task`, `id2label`, `regression_targets`).
        feature_extractor: the feature extractor saved next to the ONNX file.
        session: the `onnxruntime.InferenceSession`.

    Example:

    ```python
    >>> import numpy as np, tempfile
    >>> from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification
    >>> from hf_ser.export import OnnxSERModel, to_onnx
    >>> out_dir = tempfile.mkdtemp()
    >>> _ = to_onnx(LSTMSAForAudioClassification(LSTMSAConfig(num_labels=4)), out_dir)
    >>> runner = OnnxSERModel.from_pretrained(out_dir)
    >>> runner.predict([np.zeros(16000, np.float32)]).logits.shape
    torch.Size([1, 4])

    ```
    """

    def __init__(self, session: Any, config: Any, feature_extractor: Any) -> None:
        self.runner = session if isinstance(session, OnnxSession) else OnnxSession(session)
        self.session = self.runner.session
        self.config = config
        self.feature_extractor = feature_extractor
        self.input_names = self.runner.input_names
        self.output_names = self.runner.output_names
        self.device = torch.device("cpu")

    @classmethod
    def from_pretrained(
        cls,
        export_dir: Union[str, os.PathLike],
        quantized: Optional[bool] = None,
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
    ) -> OnnxSERModel:
        """Load an export directory.

        Args:
            export_dir: directory written by `to_onnx`.
            quantized: `True` runs `model_quantized.onnx`, `False` `model.onnx`; `None` picks `model.onnx`
                when present, else the quantised file.
            providers: onnxruntime execution providers (default `["CPUExecutionProvider"]`).
            num_threads: intra-op threads of the session (onnxruntime's default when `None`).
        """
        from transformers import AutoConfig, AutoFeatureExtractor

        register_auto_classes()

        session = OnnxSession.from_file(find_onnx_file(export_dir, quantized), providers, num_threads)
        config = AutoConfig.from_pretrained(export_dir)
        feature_extractor = AutoFeatureExtractor.from_pretrained(export_dir)
        return cls(session, config, feature_extractor)

    @staticmethod
    def to_numpy(value: Union[torch.Tensor, np.ndarray], dtype: Any) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        return np.ascontiguousarray(value, dtype=dtype)

    def __call__(
        self,
        input_values: Union[torch.Tensor, np.ndarray],
        attention_mask: Union[torch.Tensor, np.ndarray, None] = None,
        **kwargs: Any,
    ) -> SERModelOutput:
        """Run the session on feature-extractor outputs; returns `SERModelOutput` (torch tensors)."""
        mask = None if attention_mask is None else self.to_numpy(attention_mask, np.int64)
        outputs = self.runner.run(self.to_numpy(input_values, np.float32), mask)
        logits = torch.from_numpy(outputs["logits"])
        if self.config.task == "regression":
            regression = logits
        elif "regression" in outputs:
            regression = torch.from_numpy(outputs["regression"])
        else:
            regression = None
        return SERModelOutput(logits=logits, regression=regression)

    def predict(self, clips: Sequence[np.ndarray], sampling_rate: int = 16000) -> SERModelOutput:
        """Feature extraction + inference for a list of mono float32 arrays at `sampling_rate`."""
        inputs = self.feature_extractor(
            list(clips),
            sampling_rate=sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="np",
        )
        return self(inputs["input_values"], inputs.get("attention_mask"))

    def eval(self) -> OnnxSERModel:
        """No-op (ONNX Runtime has no training mode); lets callers treat this like a torch model."""
        return self

    @property
    def id2label(self) -> dict[int, str]:
        return self.config.id2label

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(task={self.config.task!r}, inputs={self.input_names}, outputs={self.output_names})"

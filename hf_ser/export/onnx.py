"""Export any hf_ser model (SSL SER models, LSTM-SA, Wav2Small student) to ONNX, optionally int8.

The exported graph has two inputs with dynamic batch and time axes, exactly what the model's feature
extractor returns: ``input_values`` (float32; ``(batch, samples)`` for waveform models,
``(batch, frames, 46)`` for LSTM-SA) and ``attention_mask`` (int64, 1 = real sample / frame). Outputs:
``logits`` (``(batch, num_labels)``; for ``task="regression"`` the regression values, as in
``SERModelOutput``) and, for ``task="multitask"``, ``regression`` (``(batch, targets)``).

The export directory is self-describing: ``model.onnx`` (and ``model_quantized.onnx`` with
``quantize="int8"``), ``config.json`` (labels, task, regression targets) and the feature extractor's
``preprocessor_config.json``, so :class:`hf_ser.export.OnnxSERModel` can run it without torch models.

The TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) is used: it maps ``nn.LSTM``
to the ONNX LSTM operator and exports in about a second, where the dynamo exporter takes tens of seconds
for the same small models.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from ..auto import register_auto_classes
from ..progress import quietly
from ..runtime.session import ONNX_FILE, QUANTIZED_ONNX_FILE

QUANTIZATIONS = (None, "int8")
INPUT_NAMES = ("input_values", "attention_mask")

# Nodes whose name contains one of these scopes stay float32 under int8 quantisation: the student's
# STFT and mel projection and the SSL backbones' convolutional feature encoder act on raw audio or power
# spectra, whose dynamic range 8-bit activations cannot hold.
FLOAT_ONLY_SCOPES = ("/front_end/", "/feature_extractor/")


class _ExportWrapper(nn.Module):
    """Calls the model with ``(input_values, attention_mask)`` and returns plain output tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.multitask = model.config.task == "multitask"

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        output = self.model(input_values=input_values, attention_mask=attention_mask, return_dict=True)
        if self.multitask:
            return output.logits, output.regression
        return output.logits


def default_feature_extractor(config: Any) -> Any:
    """The feature extractor the family pairs with ``config`` when a model object comes without one."""
    from transformers import Wav2Vec2FeatureExtractor

    from ..models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    if config.model_type == "hf_ser_lstm_sa":
        return MfccChromaFeatureExtractor()
    if config.model_type == "hf_ser_wav2small":
        return Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
    return Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True)


def _load(model_or_path: Union[str, os.PathLike, nn.Module], feature_extractor: Any) -> tuple[nn.Module, Any]:
    if isinstance(model_or_path, nn.Module):
        model = model_or_path
        if feature_extractor is None:
            source = getattr(model, "name_or_path", "") or ""
            if source and os.path.isfile(os.path.join(source, "preprocessor_config.json")):
                from transformers import AutoFeatureExtractor

                feature_extractor = AutoFeatureExtractor.from_pretrained(source)
            else:
                feature_extractor = default_feature_extractor(model.config)
        return model, feature_extractor
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    register_auto_classes()

    model = AutoModelForAudioClassification.from_pretrained(model_or_path)
    if feature_extractor is None:
        if os.path.isfile(os.path.join(str(model_or_path), "preprocessor_config.json")) or not os.path.isdir(
            str(model_or_path)
        ):
            feature_extractor = AutoFeatureExtractor.from_pretrained(model_or_path)
        else:
            feature_extractor = default_feature_extractor(model.config)
    return model, feature_extractor


def _dummy_inputs(feature_extractor: Any, sampling_rate: int) -> dict[str, torch.Tensor]:
    """Two noise clips of different lengths, so the traced graph handles padding and the mask."""
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (sampling_rate, sampling_rate * 3 // 5)]
    inputs = feature_extractor(
        clips, sampling_rate=sampling_rate, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    return {"input_values": inputs["input_values"].float(), "attention_mask": inputs["attention_mask"].long()}


def check_exportable(config: Any) -> None:
    """Raise a ``ValueError`` for a model whose seq2seq mechanism has no dynamic-length ONNX graph, and for
    models that read text as a second input (not exported).

    ``retention`` and ``gla`` would trace into a graph unrolled for the example length only (wrong on any
    other length) and ``delta`` needs ``linalg.solve_triangular`` (no ONNX operator), see
    :mod:`hf_ser.models.seq2seq`; failing up front beats a silently wrong file or a long tracer error.
    """
    from ..models.seq2seq import ONNX_EXPORTABLE

    if getattr(config, "text_backbone", None) is not None:
        raise ValueError(
            "Cannot export a model with text as a second input (SERConfig(text_backbone=...)) to ONNX: the "
            "export covers audio-only models. Run it with the PyTorch backend "
            '(hf_ser.pipeline(..., backend="torch"), text=...).'
        )
    mechanism = getattr(config, "seq2seq", None)
    if mechanism is not None and mechanism not in ONNX_EXPORTABLE:
        raise ValueError(
            f"Cannot export seq2seq mechanism {mechanism!r} to ONNX: its graph does not support dynamic "
            f"time axes. ONNX-exportable mechanisms: {', '.join(ONNX_EXPORTABLE)}. Train with one of those, "
            'or run this model with the PyTorch backend (hf_ser.pipeline(..., backend="torch")).'
        )


@quietly
def to_onnx(
    model_or_path: Union[str, os.PathLike, nn.Module],
    out_dir: Union[str, os.PathLike],
    quantize: Optional[str] = None,
    feature_extractor: Any = None,
    opset: int = 17,
) -> Path:
    """Export an hf_ser model to ``out_dir`` and return the path of the ONNX file to run.

    Args:
        model_or_path: a model object (`SERModelForAudioClassification`, `LSTMSAForAudioClassification`,
            `Wav2SmallForAudioClassification`) or a checkpoint directory loadable with
            `AutoModelForAudioClassification` after `import hf_ser`.
        out_dir: directory to write `model.onnx`, `config.json` and `preprocessor_config.json` to.
        quantize: `None` (float32) or `"int8"`: additionally write `model_quantized.onnx` with onnxruntime
            dynamic quantisation (int8 weights of MatMul/Gemm/LSTM/Conv, activations quantised at run time;
            audio front-ends, i.e. the student's log-mel and the SSL conv feature encoder, stay float32)
            and return its path.
        feature_extractor: the model's feature extractor; loaded from the checkpoint or the family default
            when `None`.
        opset: ONNX opset version.

    Returns:
        Path of `model_quantized.onnx` when `quantize="int8"`, else of `model.onnx`.

    Raises:
        ValueError: for an unknown `quantize`, or a model whose `config.seq2seq` is not in
            `hf_ser.models.seq2seq.ONNX_EXPORTABLE` (checked before anything is written).

    Example:

    ```python
    >>> import tempfile
    >>> from hf_ser import Wav2SmallConfig, Wav2SmallForAudioClassification
    >>> from hf_ser.export import OnnxSERModel, to_onnx
    >>> model = Wav2SmallForAudioClassification(Wav2SmallConfig())
    >>> out = to_onnx(model, tempfile.mkdtemp(), quantize="int8")
    >>> OnnxSERModel.from_pretrained(out.parent, quantized=True).config.task
    'regression'

    ```
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown quantize {quantize!r}; choose one of {', '.join(map(str, QUANTIZATIONS))}."
        )
    model, feature_extractor = _load(model_or_path, feature_extractor)
    check_exportable(model.config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    sampling_rate = int(getattr(feature_extractor, "sampling_rate", 16000))
    inputs = _dummy_inputs(feature_extractor, sampling_rate)
    output_names = ["logits", "regression"] if model.config.task == "multitask" else ["logits"]
    time_axis = {0: "batch", 1: "time"}
    dynamic_axes = {"input_values": time_axis, "attention_mask": time_axis}
    dynamic_axes.update({name: {0: "batch"} for name in output_names})

    onnx_path = out_dir / ONNX_FILE
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings of the TorchScript exporter
        torch.onnx.export(
            _ExportWrapper(model).eval(),
            (inputs["input_values"], inputs["attention_mask"]),
            str(onnx_path),
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUT_NAMES),
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    model.config.save_pretrained(out_dir)
    feature_extractor.save_pretrained(out_dir)
    if quantize == "int8":
        return quantize_int8(onnx_path, out_dir / QUANTIZED_ONNX_FILE)
    return onnx_path


def quantize_int8(onnx_path: Union[str, os.PathLike], quantized_path: Union[str, os.PathLike]) -> Path:
    """Dynamic int8 quantisation of ``onnx_path`` (weights int8, activations quantised per call).

    Nodes in the scopes of :data:`FLOAT_ONLY_SCOPES` (audio front-ends) are kept in float32.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(onnx_path)).graph
    excluded = [node.name for node in graph.node if any(scope in node.name for scope in FLOAT_ONLY_SCOPES)]
    quantize_dynamic(
        str(onnx_path),
        str(quantized_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm", "LSTM", "Conv"],
        nodes_to_exclude=excluded,
    )
    return Path(quantized_path)

"""Inference backends: run one batch of 16 kHz clips through a model and return plain numpy outputs.

A backend hides *how* a batch is computed (PyTorch with autocast, or ONNX Runtime) behind one method,
:meth:`TorchBackend.run`, returning a list of :class:`ClipOutput` (one per clip, padding already
removed). The pipeline turns those into user-facing dicts and never touches tensors.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ..data.processor import tokenize_texts
from .dtype import autocast, cached_auto_dtype, calibration_clips, choose_auto_dtype, resolve_dtype


@dataclass
class ClipOutput:
    """Raw model outputs for one clip (or one window of a long clip).

    Args:
        class_logits (`np.ndarray` of shape `(num_labels,)`, *optional*): class logits (categorical models).
        regression (`np.ndarray` of shape `(targets,)`, *optional*): dimensional values (A/D/V models).
        embedding (`np.ndarray` of shape `(pooled_size,)`, *optional*): pooled utterance embedding.
        frame_weights (`np.ndarray` of shape `(frames,)` or `(frames, heads)`, *optional*): pooling attention
            over the clip's real frames.
    """

    class_logits: Optional[np.ndarray] = None
    regression: Optional[np.ndarray] = None
    embedding: Optional[np.ndarray] = None
    frame_weights: Optional[np.ndarray] = None


def model_task(config: Any) -> str:
    """``"classification"``, ``"regression"`` or ``"multitask"`` for hf_ser and plain transformers configs."""
    task = getattr(config, "task", None)
    if task is not None:
        return task
    return "regression" if getattr(config, "problem_type", None) == "regression" else "classification"


def to_numpy(tensor: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if tensor is None else tensor.detach().float().cpu().numpy()


def needs_equal_length_batches(model: Any) -> bool:
    """True for plain transformers models whose first conv layer normalises over the whole padded input
    (``feat_extract_norm="group"``), so that padding changes the result: the pipeline then only batches
    clips of identical length. hf_ser models (and their ONNX exports) mask that norm
    (:mod:`hf_ser.models.masked_feature_encoder`) and batch by length like any other."""
    config = getattr(model, "config", None)
    if getattr(config, "backbone_config", None) is not None:  # an hf_ser SERConfig
        return False
    return getattr(config, "feat_extract_norm", None) == "group"


class TorchBackend:
    """Runs a PyTorch audio-classification model (hf_ser or transformers) under ``torch.inference_mode``.

    Args:
        model (`PreTrainedModel`): an hf_ser model or any transformers ``*ForAudioClassification`` model.
        feature_extractor: the model's feature extractor (called with ``padding=True`` and an attention mask).
        device (`torch.device`): where to run.
        dtype (`str` or `torch.dtype`): see :mod:`hf_ser.inference.dtype`.
        tokenizer (*optional*): the text encoder's tokenizer, for models with text as a second input
            (``SERConfig(text_backbone=...)``).
    """

    def __init__(
        self,
        model: Any,
        feature_extractor: Any,
        device: torch.device,
        dtype: Any = "auto",
        tokenizer: Any = None,
    ) -> None:
        self.device = device
        self.model = model.to(device).eval()
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.config = model.config
        self.sampling_rate = int(getattr(feature_extractor, "sampling_rate", 16000))
        self.task = model_task(self.config)
        self.dtype_setting = resolve_dtype(dtype, device)
        self.equal_length_batches = needs_equal_length_batches(model)

    @property
    def dtype(self) -> str:
        """Precision in use: ``"float32"``, ``"bfloat16"`` or ``"float16"``.

        For ``dtype="auto"`` the first access decides on the packaged calibration clips (see
        :mod:`hf_ser.inference.dtype`; cached per model and device), before any user clip runs.
        """
        if self.dtype_setting != "auto":
            return self.dtype_setting
        return cached_auto_dtype(self.model, self.device, self._calibrate)

    def _calibrate(self) -> str:
        """Run the ``"auto"`` rule on the calibration clips, each clip alone."""
        return choose_auto_dtype(self._run_calibration_clip, calibration_clips(self.sampling_rate))

    def _run_calibration_clip(self, clip: np.ndarray, precision: str) -> dict:
        """Outputs (numpy) of one calibration clip in ``precision``."""
        return self._forward(self._features([clip]), precision, False, False)

    def _features(
        self, arrays: list[np.ndarray], texts: Optional[list[Optional[str]]] = None, ctc_text: bool = False
    ) -> dict:
        """Feature-extractor inputs of a batch (padded, always with the attention mask) on the device, plus
        the tokenised transcripts (``texts``, or the model's CTC transcripts with ``ctc_text``)."""
        inputs = self.feature_extractor(
            arrays,
            sampling_rate=self.sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        if ctc_text:
            with torch.inference_mode():
                texts = self.model.transcribe_ctc(inputs["input_values"], inputs.get("attention_mask"))
        if texts is not None:
            if self.tokenizer is None:
                raise ValueError(
                    "This model reads transcripts but the pipeline has no tokenizer: save it next to the "
                    "checkpoint (SERProcessor.save_pretrained) or pass pipeline(..., tokenizer=...)."
                )
            encoded = tokenize_texts(self.tokenizer, texts)
            inputs.update({key: value.to(self.device) for key, value in encoded.items()})
        return inputs

    def _frame_lengths(self, inputs: Any, num_frames: int, batch_size: int) -> list[int]:
        """Number of real frames of each clip, for trimming padded frame weights."""
        mask = inputs.get("attention_mask")
        if mask is None:
            return [num_frames] * batch_size
        if mask.shape[1] == num_frames:  # frame-level mask (e.g. MFCC feature extractors)
            return mask.long().sum(-1).tolist()
        for owner in (self.model, getattr(self.model, "backbone", None)):
            lengths_fn = getattr(owner, "_get_feat_extract_output_lengths", None)
            if lengths_fn is not None:
                lengths = lengths_fn(mask.long().sum(-1))
                return [min(int(length), num_frames) for length in lengths]
        return [num_frames] * batch_size

    def _precision(self, precision: str) -> contextlib.AbstractContextManager:
        """Context that runs the forward pass in ``precision`` (torch autocast)."""
        return autocast(self.device, precision)

    def _forward(self, inputs: Any, precision: str, need_embeddings: bool, need_frame_weights: bool) -> dict:
        with torch.inference_mode(), self._precision(precision):
            output = self.model(**inputs)
        logits = output.logits
        regression = getattr(output, "regression", None)
        result = {"class_logits": None, "regression": None}
        if self.task == "regression":
            result["regression"] = to_numpy(regression if regression is not None else logits)
        else:
            result["class_logits"] = to_numpy(logits)
            result["regression"] = to_numpy(regression)
        if need_embeddings:
            pooled = getattr(output, "pooled", None)
            if pooled is None:
                raise ValueError(
                    "return_embeddings=True needs a model returning pooled embeddings (hf_ser models do); "
                    f"{type(self.model).__name__} does not."
                )
            result["embedding"] = to_numpy(pooled)
        if need_frame_weights:
            weights = getattr(output, "frame_weights", None)
            if weights is None:
                pooling = getattr(self.config, "pooling", None)
                raise ValueError(
                    "return_frame_weights=True needs an attention pooling; this model's pooling "
                    f"({pooling!r}) learns no frame weights."
                )
            result["frame_weights"] = to_numpy(weights)
            result["frame_lengths"] = self._frame_lengths(inputs, weights.shape[1], weights.shape[0])
        return result

    def run(
        self,
        arrays: list[np.ndarray],
        need_embeddings: bool = False,
        need_frame_weights: bool = False,
        texts: Optional[list[Optional[str]]] = None,
        ctc_text: bool = False,
    ) -> list[ClipOutput]:
        """Classify a batch of float32 mono clips at :attr:`sampling_rate`; one :class:`ClipOutput` each.

        Every clip runs once, in the one precision :attr:`dtype` names (decided before the first batch).
        ``texts`` (one transcript per clip, ``None`` = empty) or ``ctc_text`` (the model's own CTC
        transcripts) feed models with text as a second input.
        """
        precision = self.dtype
        inputs = self._features(arrays, texts, ctc_text)
        result = self._forward(inputs, precision, need_embeddings, need_frame_weights)
        return split_batch(result, len(arrays))


def split_batch(result: dict, batch_size: int) -> list[ClipOutput]:
    """Split batched numpy outputs into per-clip :class:`ClipOutput` (frame weights cut to real frames)."""
    outputs = []
    for index in range(batch_size):
        clip = ClipOutput()
        for key in ("class_logits", "regression", "embedding"):
            if result.get(key) is not None:
                setattr(clip, key, result[key][index])
        if result.get("frame_weights") is not None:
            clip.frame_weights = result["frame_weights"][index, : result["frame_lengths"][index]]
        outputs.append(clip)
    return outputs


__all__ = ["ClipOutput", "TorchBackend", "model_task", "needs_equal_length_batches", "split_batch"]

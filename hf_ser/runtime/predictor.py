"""Torch-free speech emotion recognition: export directory in, the pipeline's result dicts out.

:class:`RuntimePipeline` needs only numpy, soundfile, soxr and onnxruntime (``pip install
"hf-ser[runtime]"``). It reads ``config.json`` and ``preprocessor_config.json`` as JSON, decodes and
resamples audio, computes the features the graph does not contain (MFCC + chroma for LSTM-SA) with
:mod:`hf_ser.models.audio_features`, runs the ONNX graph and returns what :func:`hf_ser.pipeline`
returns: ``{"label", "scores"}`` for categorical models, one float per regression target for
dimensional ones, ``"segments"`` with ``chunk_length_s``. With ``chunk_length_s``, windows of files are
read from disk one batch at a time, so memory does not grow with the file's length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from ..data.audio import (
    change_speed,
    file_num_samples,
    load_audio,
    pad_short_audio,
    prepare_audio,
)
from ..data.windows import ChunkingConfig, aggregate, read_window, warn_if_long
from .features import features_from_config
from .results import format_prediction, softmax
from .session import OnnxSession, find_onnx_file
from .spec import ModelSpec, read_json

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"
"""The built-in model: its ``model.onnx`` ships next to its safetensors weights."""

@dataclass
class Source:
    """One input: a file read on demand, or an array already at the model's rate."""

    name: str
    num_samples: int
    path: Optional[str] = None
    array: Optional[np.ndarray] = None

    def load(self, sampling_rate: int) -> np.ndarray:
        return load_audio(self.path, sampling_rate) if self.array is None else self.array

    def window(self, start: int, end: int, sampling_rate: int) -> np.ndarray:
        if self.path is not None:
            return read_window(self.path, start, end, sampling_rate)
        return self.array[start:end]


class RuntimePipeline:
    """An exported hf_ser model on onnxruntime, without torch or transformers.

    Args:
        session (`OnnxSession`): the graph.
        spec (`ModelSpec`): task, labels, regression targets (from ``config.json``).
        features: the numpy feature computation (from ``preprocessor_config.json``).
        sampling_rate (`int`): the model's rate.
        batch_size (`int`, *optional*, defaults to 8): clips or windows per graph run.

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser.runtime import load
    >>> classify = load()  # the built-in model
    >>> sorted(classify(np.zeros(16000, dtype=np.float32), sampling_rate=16000))
    ['label', 'scores']

    ```
    """

    def __init__(
        self, session: OnnxSession, spec: ModelSpec, features: Any, sampling_rate: int, batch_size: int = 8
    ) -> None:
        self.session = session
        self.spec = spec
        self.features = features
        self.sampling_rate = int(sampling_rate)
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(
        cls,
        export_dir: Union[str, os.PathLike, None] = None,
        quantized: Optional[bool] = None,
        num_threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        batch_size: int = 8,
    ) -> RuntimePipeline:
        """Load an export directory (``None``: the built-in model); see :func:`find_onnx_file`."""
        export_dir = Path(DEFAULT_MODEL_DIR if export_dir is None else export_dir)
        preprocessor = read_json(export_dir / "preprocessor_config.json")
        session = OnnxSession.from_file(find_onnx_file(export_dir, quantized), providers, num_threads)
        rate = int(preprocessor.get("sampling_rate", 16000))
        return cls(
            session, ModelSpec.from_dir(export_dir), features_from_config(preprocessor), rate, batch_size
        )

    # ------------------------------------------------------------------------------------------------
    # Inputs
    # ------------------------------------------------------------------------------------------------
    def _source(self, value: Any, sampling_rate: Optional[int]) -> Source:
        """One input (path, array with ``sampling_rate``, or ``{"array", "sampling_rate"}``) -> Source."""
        if isinstance(value, (str, os.PathLike)):
            path = os.fspath(value)
            return Source(path, file_num_samples(path, self.sampling_rate), path=path)
        if isinstance(value, dict):
            value, sampling_rate = value.get("array"), value.get("sampling_rate", sampling_rate)
        if sampling_rate is None:
            raise ValueError("Pass sampling_rate= with array inputs (e.g. 16000).")
        array = prepare_audio(value, sampling_rate, self.sampling_rate)
        return Source("<in-memory audio>", array.shape[0], array=array)

    def _sources(self, inputs: Any, sampling_rate: Optional[int]) -> tuple[list[Source], bool]:
        single = not isinstance(inputs, (list, tuple))
        return [self._source(value, sampling_rate) for value in ([inputs] if single else inputs)], single

    # ------------------------------------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------------------------------------
    def run_arrays(self, arrays: Sequence[np.ndarray]) -> list[dict[str, Optional[np.ndarray]]]:
        """Probabilities / regression values of a batch of clips at the model's rate (speeds averaged)."""
        arrays = [pad_short_audio(array, self.sampling_rate) for array in arrays]
        runs = [self._run_once(arrays)]
        for speed in self.spec.test_time_speeds or ():
            if speed != 1.0:
                changed = [change_speed(a, self.sampling_rate, speed) for a in arrays]
                runs.append(self._run_once([pad_short_audio(a, self.sampling_rate) for a in changed]))
        return [
            {key: _mean([run[index][key] for run in runs]) for key in ("probabilities", "regression")}
            for index in range(len(arrays))
        ]

    def _run_once(self, arrays: Sequence[np.ndarray]) -> list[dict[str, Optional[np.ndarray]]]:
        outputs = self.session.run(*self.features(arrays))
        logits = outputs["logits"]
        if self.spec.task == "regression":
            probabilities, regression = None, logits
        else:
            probabilities, regression = softmax(logits), outputs.get("regression")
        return [
            {
                "probabilities": None if probabilities is None else probabilities[index],
                "regression": None if regression is None else regression[index].astype(np.float64),
            }
            for index in range(len(arrays))
        ]

    def _batched(self, items: Iterator[np.ndarray], batch_size: int) -> Iterator[dict]:
        """Run arrays from ``items`` in batches of ``batch_size``, yielding one output per item."""
        batch: list[np.ndarray] = []
        for item in items:
            batch.append(item)
            if len(batch) == batch_size:
                yield from self.run_arrays(batch)
                batch = []
        if batch:
            yield from self.run_arrays(batch)

    # ------------------------------------------------------------------------------------------------
    # Formatting
    # ------------------------------------------------------------------------------------------------
    def _format(self, output: dict, top_k: Optional[int]) -> dict:
        spec = self.spec
        return format_prediction(
            output["probabilities"],
            output["regression"],
            spec.id2label,
            spec.regression_targets,
            top_k,
            arousal_weights=spec.arousal_weights,
        )

    def _chunked(self, source: Source, chunk: ChunkingConfig, top_k: Optional[int], batch_size: int) -> dict:
        """Classify ``source`` window by window (read lazily) and aggregate like the torch pipeline."""
        spans = chunk.windows(source.num_samples)
        items = (
            pad_short_audio(source.window(start, end, self.sampling_rate), self.sampling_rate)
            for start, end in spans
        )
        outputs = list(self._batched(items, batch_size))
        rate = float(self.sampling_rate)
        durations = [(end - start) / rate for start, end in spans]
        segments = [
            {"start": round(start / rate, 3), "end": round(min(end, source.num_samples) / rate, 3)}
            | self._format(output, top_k)
            for (start, end), output in zip(spans, outputs, strict=True)
        ]
        merged = {
            key: None if outputs[0][key] is None else aggregate([o[key] for o in outputs], durations)
            for key in ("probabilities", "regression")
        }
        return self._format(merged, top_k) | {"segments": segments}

    def __call__(
        self,
        inputs: Any,
        *,
        sampling_rate: Optional[int] = None,
        top_k: Optional[int] = None,
        chunk_length_s: Optional[float] = None,
        stride_length_s: Optional[float] = None,
        batch_size: Optional[int] = None,
    ) -> Union[dict, list[dict]]:
        """Classify one input (returns a dict) or a list of inputs (a list of dicts, in order).

        Args:
            inputs: a path, a float array (with ``sampling_rate``), ``{"array", "sampling_rate"}``, or a
                list of those.
            sampling_rate (`int`, *optional*): rate of array inputs.
            top_k (`int`, *optional*): keep only the ``top_k`` most likely classes.
            chunk_length_s, stride_length_s (`float`, *optional*): classify in windows (as the pipeline).
            batch_size (`int`, *optional*): clips or windows per graph run.
        """
        batch_size = batch_size or self.batch_size
        sources, single = self._sources(inputs, sampling_rate)
        if chunk_length_s is None:
            for source in sources:
                warn_if_long(source.name, source.num_samples, self.sampling_rate)
            loaded = (source.load(self.sampling_rate) for source in sources)
            results = [self._format(output, top_k) for output in self._batched(loaded, batch_size)]
        else:
            chunk = ChunkingConfig.from_seconds(chunk_length_s, stride_length_s, self.sampling_rate)
            results = [self._chunked(source, chunk, top_k, batch_size) for source in sources]
        return results[0] if single else results


def _mean(values: list[Optional[np.ndarray]]) -> Optional[np.ndarray]:
    """Mean of per-speed outputs (the value itself for one run; ``None`` stays ``None``)."""
    if values[0] is None:
        return None
    return values[0] if len(values) == 1 else np.mean(np.stack(values), axis=0)


def load(
    export_dir: Union[str, os.PathLike, None] = None, quantized: Optional[bool] = None, **kwargs: Any
) -> RuntimePipeline:
    """A :class:`RuntimePipeline` for ``export_dir`` (``None``: the built-in model)."""
    return RuntimePipeline.from_pretrained(export_dir, quantized=quantized, **kwargs)


__all__ = ["DEFAULT_MODEL_DIR", "RuntimePipeline", "Source", "load"]

"""``hf_ser.pipeline``: emotion recognition on files, arrays, tensors or datasets in one call.

```python
>>> from hf_ser import pipeline
>>> classify = pipeline()                      # the built-in default model, no network needed
>>> classify("examples/cheerful_en.wav")       # doctest: +SKIP
{'label': 'neutral', 'scores': {'neutral': 0.61, 'sadness': 0.22, ...}}
```

What happens to each input (the modules of :mod:`hf_ser.inference` do one step each):

1. :mod:`~hf_ser.inference.inputs` turns paths, arrays, tensors, dicts and `datasets` into
   :class:`~hf_ser.inference.inputs.AudioSource` items, validating and resampling with
   :mod:`hf_ser.data.audio` (files are only opened, not decoded, at this point);
2. with ``chunk_length_s``, :mod:`~hf_ser.data.windows` cuts each clip into windows that are read
   from disk one batch at a time;
3. :mod:`~hf_ser.inference.batching` groups clips (or windows) of similar length;
4. a backend (:mod:`~hf_ser.inference.backends`: PyTorch with bf16 autocast chosen by
   :mod:`~hf_ser.inference.dtype`, or ONNX Runtime; by default :mod:`~hf_ser.inference.auto_backend`
   picks the fastest that keeps the predictions) computes logits, A/D/V values, embeddings and
   pooling weights;
5. results are written back in input order as plain dicts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoFeatureExtractor

from ..data.audio import DEFAULT_SAMPLING_RATE, AudioError, change_speed, pad_short_audio
from ..data.threads import configure_threads
from ..data.windows import ChunkingConfig, aggregate, read_window, warn_if_long
from ..progress import quiet_progress, quietly
from ..runtime.results import format_prediction, softmax
from .backends import ClipOutput, TorchBackend, model_task
from .batching import length_sorted_batches
from .inputs import AudioSource, check_errors_mode, normalize_inputs
from .model_source import ModelNotFoundError, check_local_path, hub_lookup, is_onnx_export, not_found_message
from .speed_averaging import average_outputs, check_test_time_speeds
from .streaming import TorchStreamer, check_piece_seconds, stream_pieces
from .texts import has_text_backbone, resolve_texts

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"
"""The built-in default model (a small LSTM-SA model shipped inside the package)."""

BACKENDS = ("auto", "torch", "onnx")
RESERVED_KEYS = ("label", "scores", "segments", "embedding", "frame_weights", "start", "end")

_UNSET: Any = object()


def resolve_device(device: Union[str, int, torch.device, None]) -> torch.device:
    """``None`` -> CUDA when available else CPU; ints are CUDA indices; strings as in ``torch.device``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, int) and not isinstance(device, bool):
        return torch.device("cpu") if device < 0 else torch.device("cuda", device)
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"Unknown device {device!r}; use 'cpu', 'cuda', 'cuda:0' or a GPU index.") from error


@quietly
def load_model(model: Union[str, os.PathLike], **kwargs: Any) -> tuple[Any, Any]:
    """Load ``(model, feature_extractor)`` from a checkpoint directory or Hub id of an audio classifier.

    hf_ser checkpoints load through ``AutoModelForAudioClassification`` / ``AutoFeatureExtractor`` (``import
    hf_ser`` registers the family with those Auto classes). wav2vec2 / HuBERT / WavLM emotion checkpoints in
    the transformers ``*ForSequenceClassification`` or audEERING ``*ForSpeechClassification`` layout go
    through :func:`hf_ser.convert_checkpoint`, which keeps their outputs and adds embeddings and masks;
    other audio classifiers load with the Auto classes as they are.

    Offline first (:mod:`~hf_ser.inference.model_source`): a missing local path fails at once, and a Hub id
    is looked up in the cache only when ``HF_HUB_OFFLINE`` is set or the Hub cannot be reached.
    """
    name = os.fspath(model)
    check_local_path(name)
    local = os.path.isdir(os.path.expanduser(name))
    name = os.path.expanduser(name) if local else name
    lookup = {} if local else hub_lookup(name)
    try:
        loaded = _load_classifier(name, **lookup, **kwargs)
        extractor = AutoFeatureExtractor.from_pretrained(name, **lookup)
    except OSError as error:
        raise ModelNotFoundError(not_found_message(name, error, bool(lookup))) from error
    return loaded, extractor


def _load_classifier(name: str, **kwargs: Any) -> Any:
    """The model of :func:`load_model`: converted when it is a convertible wav2vec2-family classifier."""
    from transformers import AutoModelForAudioClassification, PreTrainedConfig

    from ..auto import AUTO_CLASS_TABLE
    from ..models.convert import SEQUENCE_CLASSIFICATION_ARCHITECTURES, SPEECH_CLASSIFICATION_ARCHITECTURES

    convertible = (*SEQUENCE_CLASSIFICATION_ARCHITECTURES, *SPEECH_CLASSIFICATION_ARCHITECTURES)
    lookup = {key: value for key, value in kwargs.items() if key == "local_files_only"}
    config, _ = PreTrainedConfig.get_config_dict(name, **lookup)
    ours = config.get("model_type") in {row.config_class.model_type for row in AUTO_CLASS_TABLE}
    if not ours and set(config.get("architectures") or []) & set(convertible):
        from ..models.convert import convert_checkpoint

        return convert_checkpoint(name)
    return AutoModelForAudioClassification.from_pretrained(name, **kwargs)


def build_backend(
    model: Any,
    feature_extractor: Any,
    backend: str,
    device: torch.device,
    dtype: Any = "auto",
    tokenizer: Any = None,
) -> Any:
    """Create the inference backend for ``model`` (a path, Hub id or model object); models with text as
    a second input also get their tokenizer (loaded from the checkpoint unless given) and run on torch
    (``backend="auto"`` exports audio-only models)."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if model is None:
        if not (DEFAULT_MODEL_DIR / "config.json").is_file():
            raise ValueError(
                f"The built-in default model is missing from {DEFAULT_MODEL_DIR}; reinstall hf_ser or "
                "pass model=."
            )
        model = DEFAULT_MODEL_DIR
    if isinstance(model, (str, os.PathLike)):
        check_local_path(os.fspath(model))
    if backend in ("torch", "auto") and isinstance(model, (str, os.PathLike)) and is_onnx_export(model):
        backend = "onnx"  # an `hf-ser export` folder: no PyTorch weights to load
    if backend == "onnx":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(model, feature_extractor=feature_extractor, dtype=dtype)
    source_dir = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    model, feature_extractor = torch_model_and_extractor(model, feature_extractor)
    if tokenizer is None and has_text_backbone(model.config):
        tokenizer = load_tokenizer(model)
    configure_threads(model)
    if backend == "auto" and tokenizer is None:
        from .auto_backend import AutoBackend

        return AutoBackend(model, feature_extractor, device, dtype, source_dir=source_dir)
    return TorchBackend(model, feature_extractor, device, dtype, tokenizer=tokenizer)


def torch_model_and_extractor(model: Any, feature_extractor: Any) -> tuple[Any, Any]:
    """The torch model and its feature extractor, loading a checkpoint path or the extractor next to a
    model object's checkpoint."""
    if isinstance(model, (str, os.PathLike)):
        model, loaded_extractor = load_model(model)
        return model, feature_extractor or loaded_extractor
    if feature_extractor is None:
        source = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
        if not source or not os.path.isdir(source):
            raise ValueError(
                f"Pass feature_extractor= together with a {type(model).__name__} object (or pass the "
                "checkpoint directory as model=, which loads both)."
            )
        with quiet_progress():
            feature_extractor = AutoFeatureExtractor.from_pretrained(source)
    return model, feature_extractor


def load_tokenizer(model: Any) -> Any:
    """The tokenizer saved next to a text-reading checkpoint (``SERProcessor.save_pretrained``)."""
    from transformers import AutoTokenizer

    source = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
    if not source or not os.path.isdir(source):
        raise ValueError(
            f"This {type(model).__name__} reads transcripts: pass tokenizer= (the text encoder's tokenizer) "
            "or a checkpoint directory holding it (SERProcessor.save_pretrained)."
        )
    with quiet_progress():
        return AutoTokenizer.from_pretrained(source)


class SERPipeline:
    """Callable speech emotion recognition pipeline; build it with :func:`pipeline`.

    Call it on one clip (returns a dict) or several (returns a list of dicts, in input order):
    ``pipe(path)``, ``pipe([path, ...])``, ``pipe(array, sampling_rate=44100)``,
    ``pipe({"array": array, "sampling_rate": 8000})``, ``pipe(dataset)``.

    Each result holds ``"label"`` and ``"scores"`` (class -> probability, most likely first) for
    categorical models and one float per regression target (e.g. ``"arousal"``, ``"dominance"``,
    ``"valence"``, in the config's order) for dimensional models; multitask models give both. A categorical
    model whose config holds ``arousal_from_categories`` also gets ``"arousal"`` in [0, 1], derived from the
    class probabilities (:func:`hf_ser.runtime.spec.arousal_from_categories`; the built-in model). With
    ``return_embeddings=True`` it adds ``"embedding"`` (the pooled vector, `np.ndarray`); with
    ``return_frame_weights=True`` it adds ``"frame_weights"`` (pooling attention over the clip's frames).
    With chunking it adds ``"segments"``: one such dict per window with ``"start"``/``"end"`` in seconds;
    the top-level values are then the duration-weighted average over the windows. With
    ``test_time_speeds`` (default: the model config's) each clip or window is also run at those speeds
    and the predictions are averaged (:mod:`hf_ser.inference.speed_averaging`).
    """

    def __init__(
        self,
        backend: Any,
        *,
        batch_size: int = 8,
        chunk_length_s: Optional[float] = None,
        stride_length_s: Optional[float] = None,
        top_k: Optional[int] = None,
        test_time_speeds: Any = _UNSET,
    ) -> None:
        self.backend = backend
        self.config = backend.config
        self.sampling_rate = int(getattr(backend, "sampling_rate", DEFAULT_SAMPLING_RATE))
        self.task = model_task(self.config)
        self.id2label = {int(k): v for k, v in (getattr(self.config, "id2label", None) or {}).items()}
        self.regression_targets = self._regression_targets()
        self.batch_size = batch_size
        self.chunk_length_s = chunk_length_s
        self.stride_length_s = stride_length_s
        self.top_k = top_k
        self._check_settings(batch_size, chunk_length_s, stride_length_s, top_k)
        self.test_time_speeds = check_test_time_speeds(
            getattr(self.config, "test_time_speeds", None) if test_time_speeds is _UNSET else test_time_speeds
        )

    @property
    def model(self) -> Any:
        """The underlying model (a `PreTrainedModel` for the torch backend)."""
        return getattr(self.backend, "model", None)

    @property
    def dtype(self) -> str:
        """Compute precision in use; ``dtype="auto"`` is decided on the packaged calibration clips at the
        first access (see :mod:`hf_ser.inference.dtype`)."""
        return self.backend.dtype

    def _regression_targets(self) -> list[str]:
        if self.task == "classification":
            return []
        targets = list(getattr(self.config, "regression_targets", None) or [])
        if not targets and self.task == "regression":
            targets = [self.id2label[index] for index in sorted(self.id2label)]
        clash = sorted(set(targets) & set(RESERVED_KEYS))
        if clash:
            raise ValueError(
                f"Regression target names {clash} clash with result keys {RESERVED_KEYS}; rename them."
            )
        return targets

    def _check_settings(
        self, batch_size: Any, chunk_length_s: Any, stride_length_s: Any, top_k: Any
    ) -> Optional[ChunkingConfig]:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or a positive integer, got {top_k!r}.")
        if chunk_length_s is None:
            if stride_length_s is not None:
                raise ValueError("stride_length_s needs chunk_length_s; set both or neither.")
            return None
        return ChunkingConfig.from_seconds(chunk_length_s, stride_length_s, self.sampling_rate)

    def __call__(
        self,
        inputs: Any,
        *,
        sampling_rate: Optional[int] = None,
        top_k: Optional[int] = _UNSET,
        return_embeddings: bool = False,
        return_frame_weights: bool = False,
        chunk_length_s: Optional[float] = _UNSET,
        stride_length_s: Optional[float] = _UNSET,
        batch_size: int = _UNSET,
        audio_column: str = "audio",
        progress: bool = False,
        test_time_speeds: Any = _UNSET,
        errors: str = "raise",
        text: Any = None,
        text_column: str = "text",
    ) -> Union[dict, list[dict]]:
        """Classify ``inputs``; keyword arguments left unset use the pipeline's defaults.

        Args:
            inputs: a path, bytes, array/tensor (with ``sampling_rate``), dict, a list of those, or a
                `datasets.Dataset` (``audio_column``).
            sampling_rate (`int`, *optional*): rate of array/tensor inputs.
            top_k (`int`, *optional*): keep only the ``top_k`` most likely classes in ``"scores"``.
            return_embeddings (`bool`): add the pooled embedding.
            return_frame_weights (`bool`): add the pooling attention weights over frames.
            chunk_length_s, stride_length_s (`float`, *optional*): window length and per-side overlap for
                long audio (see :mod:`hf_ser.data.windows`).
            batch_size (`int`, *optional*): clips (or windows) per forward pass.
            audio_column (`str`): audio column of a `datasets.Dataset` input.
            progress (`bool`): show a tqdm progress bar over clips.
            test_time_speeds (`list[float]`, *optional*): also run every clip (or window) at these speeds
                and average the predictions; ``None`` turns it off. Defaults to the pipeline's setting.
            errors (`str`, *optional*, defaults to `"raise"`): ``"return"`` puts
                ``{"error": reason, "input": path or position}`` in the place of each unusable clip (missing,
                undecodable, NaN, bad rate...) and classifies the others exactly as without it.
            text (`str` or `list`, *optional*): for models with text as a second input
                (``SERConfig(text_backbone=...)``): the transcript of a single clip, a list aligned with a
                list of clips (``None`` = no transcript), or ``"ctc"`` for the model's own CTC transcripts.
                Defaults to dict inputs' ``"text"`` keys or the dataset's ``text_column``. Each window of a
                chunked clip gets the whole clip's transcript. See :mod:`hf_ser.inference.texts`.
            text_column (`str`): transcript column of a `datasets.Dataset` input.

        Raises:
            hf_ser.data.audio.AudioError: (a ``ValueError``) for unusable audio or inputs, naming the problem
                (with ``errors="return"`` only for problems of the whole call, e.g. an empty list).
        """
        top_k = self.top_k if top_k is _UNSET else top_k
        chunk_length_s = self.chunk_length_s if chunk_length_s is _UNSET else chunk_length_s
        stride_length_s = self.stride_length_s if stride_length_s is _UNSET else stride_length_s
        batch_size = self.batch_size if batch_size is _UNSET else batch_size
        chunking = self._check_settings(batch_size, chunk_length_s, stride_length_s, top_k)
        speeds = (
            self.test_time_speeds if test_time_speeds is _UNSET else check_test_time_speeds(test_time_speeds)
        )

        sources, is_single, pieces = self._run(
            inputs, sampling_rate, audio_column, errors, chunking, batch_size,
            (return_embeddings, return_frame_weights), progress, speeds, (text, text_column),
        )  # fmt: skip
        results = [
            self._format_source(index, source, mine, chunking, top_k)
            for index, (source, mine) in enumerate(zip(sources, pieces, strict=True))
        ]
        return results[0] if is_single else results

    def outputs(
        self,
        inputs: Any,
        *,
        sampling_rate: Optional[int] = None,
        batch_size: int = _UNSET,
        audio_column: str = "audio",
        progress: bool = False,
        test_time_speeds: Any = _UNSET,
        text: Any = None,
        text_column: str = "text",
    ) -> list[ClipOutput]:
        """The raw outputs of whole clips as arrays, in input order: what evaluation consumes.

        The same path as calling the pipeline (input rules, batching, precision, test-time speed
        averaging), without formatting: one :class:`~hf_ser.inference.backends.ClipOutput` per input with
        ``class_logits`` (columns in ``model.config.id2label`` order) and/or ``regression`` (columns in
        ``regression_targets`` order). No chunking; unusable inputs raise ``AudioError``. ``text`` and
        ``text_column`` as in calling the pipeline.
        """
        batch_size = self.batch_size if batch_size is _UNSET else batch_size
        self._check_settings(batch_size, None, None, None)
        speeds = (
            self.test_time_speeds if test_time_speeds is _UNSET else check_test_time_speeds(test_time_speeds)
        )
        _, _, pieces = self._run(
            inputs, sampling_rate, audio_column, "raise", None, batch_size, (False, False), progress, speeds,
            (text, text_column),
        )  # fmt: skip
        return [mine[0][1] for mine in pieces]

    def _run(
        self,
        inputs: Any,
        sampling_rate: Optional[int],
        audio_column: str,
        errors: str,
        chunking: Optional[ChunkingConfig],
        batch_size: int,
        extras: tuple[bool, bool],
        progress: bool,
        speeds: Any,
        text_options: tuple[Any, str] = (None, "text"),
    ) -> tuple[list[AudioSource], bool, list[list]]:
        """Normalise ``inputs`` (and their transcripts, ``text_options = (text, text_column)``), run every
        unit (clip or window) and group the outputs per input."""
        sources, is_single = normalize_inputs(
            inputs,
            sampling_rate=sampling_rate,
            target_sampling_rate=self.sampling_rate,
            audio_column=audio_column,
            errors=check_errors_mode(errors),
        )
        texts, use_ctc = resolve_texts(self.config, inputs, *text_options, len(sources), is_single)
        for source, transcript in zip(sources, texts or [None] * len(sources), strict=True):
            source.text = transcript
        text_mode = "ctc" if use_ctc else ("given" if texts is not None else None)
        units = self._plan_units(sources, chunking)
        outputs = self._run_units(sources, units, batch_size, *extras, progress, speeds, errors, text_mode)
        pieces: list[list] = [[] for _ in sources]
        for unit, output in zip(units, outputs, strict=True):
            if output is not None:
                pieces[unit[0]].append((unit, output))
        return sources, is_single, pieces

    def _format_source(
        self, index: int, source: AudioSource, pieces: list, chunking: Optional[ChunkingConfig], top_k: Any
    ) -> dict:
        """The result of one input: an error entry when it failed, else its (chunked) prediction."""
        if source.error is not None:
            return {"error": source.error, "input": source.path if source.path is not None else index}
        if chunking is None:
            return self._format(pieces[0][1], top_k)
        return self._format_chunked(pieces, top_k, source)

    def stream(
        self,
        inputs: Any,
        *,
        piece_seconds: float = 1.0,
        sampling_rate: Optional[int] = None,
        top_k: Optional[int] = _UNSET,
        return_embeddings: bool = False,
    ) -> Iterator[dict]:
        """Classify audio as it arrives: yield the running prediction after every piece.

        For models whose seq2seq encoder is causal and linear (one of ``LINEAR_MECHANISMS``: ``"retention"``,
        ``"gla"``, ``"delta"``, ``"lightnet"``, ``"gsa"``, ``"kda"``, with ``seq2seq_bidirectional=False``, or
        ``"none"``) or absent: the encoder state and the pooling
        accumulators are carried from piece to piece, so the prediction after ``end`` seconds covers all
        the audio so far at a cost per piece that does not grow with the stream. The backbone runs on each
        piece alone (like the windows of ``chunk_length_s``); the rest is exact (see
        :mod:`hf_ser.models.streaming`). Runs in fp32, without ``test_time_speeds``.

        Args:
            inputs: one clip (path, bytes, array/tensor with ``sampling_rate``, dict) or an iterable of
                audio blocks of any length (e.g. from a microphone) at ``sampling_rate``.
            piece_seconds (`float`, *optional*, defaults to 1.0): audio per model step (>= 0.1 s); blocks
                are re-cut to this length, so it is also the latency of the updates.
            sampling_rate (`int`, *optional*): rate of array inputs and blocks.
            top_k (`int`, *optional*): keep only the ``top_k`` most likely classes in ``"scores"``.
            return_embeddings (`bool`): add the running pooled embedding.

        Returns:
            A generator of dicts: ``"start"`` / ``"end"`` (seconds) of the piece just consumed, and the
            prediction for ``[0, end)`` as in ``pipe(...)`` (``"label"``, ``"scores"`` and/or one value per
            regression target).

        Raises:
            ValueError: when the model cannot stream (the message says why), for bad settings, and
                (as ``AudioError``) for unusable audio.

        Example:

        ```python
        >>> import numpy as np
        >>> from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor
        >>> from hf_ser import SERConfig, SERModelForAudioClassification, pipeline
        >>> backbone = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        ...                           intermediate_size=37, conv_dim=(32, 32), conv_kernel=(10, 3),
        ...                           conv_stride=(5, 2), num_conv_pos_embeddings=16,
        ...                           num_conv_pos_embedding_groups=2, feat_extract_norm="layer")
        >>> model = SERModelForAudioClassification(SERConfig(
        ...     backbone_config=backbone, id2label={0: "anger", 1: "neutral"}, pooling="soft_attention",
        ...     seq2seq="gla", seq2seq_bidirectional=False))
        >>> pipe = pipeline(model, feature_extractor=Wav2Vec2FeatureExtractor(return_attention_mask=True))
        >>> microphone = (np.random.default_rng(0).normal(size=4000).astype(np.float32) for _ in range(8))
        >>> [result["end"] for result in pipe.stream(microphone, sampling_rate=16000, piece_seconds=0.5)]
        [0.5, 1.0, 1.5, 2.0]

        ```
        """
        top_k = self.top_k if top_k is _UNSET else top_k
        self._check_settings(self.batch_size, None, None, top_k)
        piece_samples = int(round(check_piece_seconds(piece_seconds) * self.sampling_rate))
        streamer = TorchStreamer(getattr(self.backend, "torch_backend", self.backend))  # backend="auto"
        pieces = stream_pieces(
            inputs,
            piece_samples,
            lambda source, start, end: self._load_unit(source, start, end, whole=False),
            sampling_rate=sampling_rate,
            target_sampling_rate=self.sampling_rate,
        )
        return self._stream_results(streamer.run(pieces), top_k, return_embeddings)

    def _stream_results(
        self, outputs: Iterator, top_k: Optional[int], return_embeddings: bool
    ) -> Iterator[dict]:
        """Format the ``(start, end, output)`` of each streamed piece (a generator, so :meth:`stream`
        itself validates eagerly)."""
        rate = float(self.sampling_rate)
        for start, end, output in outputs:
            if not return_embeddings:
                output.embedding = None
            result = {"start": round(start / rate, 3), "end": round(end / rate, 3)}
            result.update(self._format(output, top_k))
            yield result

    # ------------------------------------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------------------------------------
    def _plan_units(
        self, sources: list[AudioSource], chunking: Optional[ChunkingConfig]
    ) -> list[tuple[int, int, int]]:
        """One ``(source_index, start, end)`` per forward-pass item: the whole clip, or each window."""
        units = []
        for index, source in enumerate(sources):
            if source.error is not None:  # errors="return": reported, not run
                continue
            if chunking is None:
                warn_if_long(source.name, source.num_samples, self.sampling_rate, stacklevel=5)
                units.append((index, 0, source.num_samples))
            else:
                units.extend((index, start, end) for start, end in chunking.windows(source.num_samples))
        return units

    def _load_unit(self, source: AudioSource, start: int, end: int, whole: bool) -> np.ndarray:
        if whole:
            return source.load()
        if source.path is not None:
            audio = read_window(source.path, start, end, self.sampling_rate)
        else:
            audio = source.array[start:end]
        return pad_short_audio(
            audio, self.sampling_rate, f"{source.name} [{start / self.sampling_rate:.2f} s]"
        )

    def _run_units(
        self,
        sources: list[AudioSource],
        units: list[tuple[int, int, int]],
        batch_size: int,
        return_embeddings: bool,
        return_frame_weights: bool,
        progress: bool,
        speeds: tuple[float, ...] = (),
        errors: str = "raise",
        text_mode: Optional[str] = None,
    ) -> list[Optional[ClipOutput]]:
        """Run every unit in length-sorted batches; return outputs in unit order.

        With ``speeds``, every batch is also run at each speed and each unit's outputs are averaged. With
        ``errors="return"`` a clip that fails to load gets its ``error`` set and ``None`` outputs; the rest
        of its batch runs without it (batches are independent of each other, so other clips' results do not
        change). ``text_mode``: ``None`` (audio only), ``"given"`` (each clip's ``source.text``) or ``"ctc"``
        (the model's CTC transcripts).
        """
        whole = [start == 0 and end == sources[index].num_samples for index, start, end in units]
        batches = length_sorted_batches(
            [end - start for _, start, end in units],
            batch_size,
            equal_lengths=getattr(self.backend, "equal_length_batches", False),
        )
        outputs: list[Optional[ClipOutput]] = [None] * len(units)
        with tqdm(total=len(units), disable=not progress, unit="clip", desc="hf-ser") as bar:
            for planned in batches:
                batch, arrays = self._load_batch(sources, units, planned, whole, errors)
                bar.update(len(planned) - len(batch))
                if not batch:
                    continue
                run = self._batch_runner(sources, units, batch, text_mode)
                batch_outputs = [run(arrays, return_embeddings, return_frame_weights)]
                for speed in speeds:
                    variants = [
                        pad_short_audio(
                            change_speed(array, self.sampling_rate, speed),
                            self.sampling_rate,
                            f"{sources[units[i][0]].name} at speed {speed}",
                        )
                        for i, array in zip(batch, arrays, strict=True)
                    ]
                    batch_outputs.append(run(variants, False, False))
                for position, i in enumerate(batch):
                    outputs[i] = (
                        average_outputs([run[position] for run in batch_outputs])
                        if speeds
                        else batch_outputs[0][position]
                    )
                bar.update(len(batch))
        return outputs

    def _batch_runner(
        self, sources: list[AudioSource], units: list, batch: list[int], text_mode: Optional[str]
    ) -> Any:
        """``backend.run`` for one batch, with the batch's transcripts bound when the model reads text."""
        if text_mode is None:
            return self.backend.run
        texts = None if text_mode == "ctc" else [sources[units[i][0]].text for i in batch]
        return functools.partial(self.backend.run, texts=texts, ctc_text=text_mode == "ctc")

    def _load_batch(
        self, sources: list[AudioSource], units: list, batch: list[int], whole: list[bool], errors: str
    ) -> tuple[list[int], list[np.ndarray]]:
        """Decode the units of one batch; with ``errors="return"`` a unit whose clip fails (now or in an
        earlier window) is left out and its source marked, otherwise the `AudioError` propagates."""
        kept, arrays = [], []
        for i in batch:
            source = sources[units[i][0]]
            if source.error is not None:
                continue
            try:
                arrays.append(self._load_unit(source, units[i][1], units[i][2], whole[i]))
            except AudioError as error:
                if errors == "raise":
                    raise
                source.error = str(error)
                continue
            kept.append(i)
        return kept, arrays

    # ------------------------------------------------------------------------------------------------
    # Formatting
    # ------------------------------------------------------------------------------------------------
    def _format_values(
        self, probabilities: Optional[np.ndarray], regression: Optional[np.ndarray], top_k
    ) -> dict:
        weights = getattr(self.config, "arousal_from_categories", None)
        return format_prediction(
            probabilities, regression, self.id2label, self.regression_targets, top_k, arousal_weights=weights
        )

    def _format(self, output: ClipOutput, top_k: Optional[int]) -> dict:
        probabilities = None if output.class_logits is None else softmax(output.class_logits)
        result = self._format_values(probabilities, output.regression, top_k)
        if output.embedding is not None:
            result["embedding"] = output.embedding
        if output.frame_weights is not None:
            result["frame_weights"] = output.frame_weights
        return result

    def _format_chunked(
        self, pieces: list[tuple[tuple[int, int, int], ClipOutput]], top_k: Optional[int], source: AudioSource
    ) -> dict:
        rate = float(self.sampling_rate)
        segments, durations, probabilities, regressions, embeddings = [], [], [], [], []
        for (_, start, end), output in pieces:
            segment = {"start": round(start / rate, 3), "end": round(min(end, source.num_samples) / rate, 3)}
            segment.update(self._format(output, top_k))
            segments.append(segment)
            durations.append((end - start) / rate)
            if output.class_logits is not None:
                probabilities.append(softmax(output.class_logits))
            if output.regression is not None:
                regressions.append(output.regression)
            if output.embedding is not None:
                embeddings.append(output.embedding)
        result = self._format_values(
            aggregate(probabilities, durations) if probabilities else None,
            aggregate(regressions, durations) if regressions else None,
            top_k,
        )
        if embeddings:
            result["embedding"] = aggregate(embeddings, durations).astype(np.float32)
        result["segments"] = segments
        return result


def pipeline(
    model: Any = None,
    *,
    feature_extractor: Any = None,
    device: Union[str, int, torch.device, None] = None,
    dtype: Union[str, torch.dtype] = "auto",
    backend: str = "auto",
    batch_size: int = 8,
    chunk_length_s: Optional[float] = None,
    stride_length_s: Optional[float] = None,
    top_k: Optional[int] = None,
    test_time_speeds: Any = _UNSET,
    tokenizer: Any = None,
) -> SERPipeline:
    """Build a speech emotion recognition pipeline.

    Args:
        model (`str`, `os.PathLike` or `PreTrainedModel`, *optional*): ``None`` for the built-in default model
            (offline), a local checkpoint directory or Hub id of an hf_ser / transformers audio-classification
            model, an ONNX export directory (with ``backend="onnx"``), or a model object (then also pass
            ``feature_extractor``).
        feature_extractor (*optional*): overrides the checkpoint's feature extractor.
        device (`str`, `int` or `torch.device`, *optional*): defaults to CUDA when available, else CPU.
        dtype (`str` or `torch.dtype`, *optional*, defaults to `"auto"`): ``"auto"`` decides once per model,
            before any user clip, on calibration clips shipped with hf_ser: bf16 autocast where the hardware
            supports it and every calibration clip keeps its top-1 class with probabilities (and A/D/V
            values) within 0.02 of fp32, else fp32 (see :mod:`hf_ser.inference.dtype`); ``"float32"``
            forces fp32; ``"bfloat16"`` / ``"float16"`` force reduced precision.
            With ``backend="onnx"``: ``"auto"`` or ``"float32"`` run ``model.onnx``, ``"int8"`` the int8 file.
            With ``backend="auto"`` a forced precision keeps only backends of that precision (``"int8"``:
            ONNX int8; ``"float32"``: ONNX fp32, else torch fp32; bf16 / fp16: torch).
        backend (`str`, *optional*, defaults to `"auto"`): ``"auto"`` picks the fastest backend and precision
            that keep the predictions of torch fp32 on the calibration clips (top-1 unchanged, probabilities
            and A/D/V values within 0.02): on a CPU ONNX Runtime int8, then ONNX Runtime fp32 (hf_ser models
            that export, with ``onnxruntime`` installed), else torch with ``dtype="auto"``; decided once per
            model and cached on disk with the export (see :mod:`hf_ser.inference.auto_backend`).
            ``"torch"`` (PyTorch only) or ``"onnx"`` (an ``hf-ser export`` directory on ONNX Runtime) force
            one.
        batch_size (`int`, *optional*, defaults to 8): clips per forward pass (length-sorted).
        chunk_length_s (`float`, *optional*): classify long audio in windows of this length.
        stride_length_s (`float`, *optional*): context shared with each neighbouring window
            (defaults to ``chunk_length_s / 6``).
        top_k (`int`, *optional*): keep only the ``top_k`` most likely classes in ``"scores"``.
        test_time_speeds (`list[float]`, *optional*): also run every clip at these speeds (e.g.
            ``[0.9, 1.1]``) and average the predictions (:mod:`~hf_ser.inference.speed_averaging`).
            Defaults to the model config's ``test_time_speeds`` (set by the recipe that trained it);
            ``None`` turns it off.
        tokenizer (*optional*): the text encoder's tokenizer for models with text as a second input
            (``SERConfig(text_backbone=...)``); loaded from the checkpoint directory when not given.

    Returns:
        A callable :class:`SERPipeline`.

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser import pipeline
    >>> classify = pipeline(dtype="float32")
    >>> result = classify(np.zeros(16000, dtype=np.float32), sampling_rate=16000)
    >>> sorted(result) == ["label", "scores"]
    True

    ```
    """
    device = resolve_device(device)
    runner = build_backend(model, feature_extractor, backend, device, dtype, tokenizer)
    return SERPipeline(
        runner,
        batch_size=batch_size,
        chunk_length_s=chunk_length_s,
        stride_length_s=stride_length_s,
        top_k=top_k,
        test_time_speeds=test_time_speeds,
    )


__all__ = [
    "DEFAULT_MODEL_DIR",
    "SERPipeline",
    "build_backend",
    "load_model",
    "pipeline",
    "resolve_device",
    "softmax",
    "torch_model_and_extractor",
]

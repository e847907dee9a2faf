"""``backend="auto"`` (the pipeline's default): the fastest backend and precision that keep predictions.

**The rule** (one rule for every candidate, decided once per model before any user clip): the candidates
are tried in order of expected speed and the first one *accepted* serves every clip. A candidate is
accepted when, on each calibration clip shipped with hf_ser (:func:`hf_ser.inference.dtype.calibration_clips`,
each clip run alone), the top-1 class equals that of the torch fp32 model and every class probability and
regression value is within :data:`~hf_ser.inference.dtype.SCORE_TOLERANCE` /
:data:`~hf_ser.inference.dtype.REGRESSION_TOLERANCE` (0.02) of it. The last candidate needs no check.

Candidates (:func:`plan_candidates`):

- CPU: ONNX Runtime fp32 -> torch with ``dtype="auto"`` (bf16 under the same rule where the CPU runs
  bf16, else fp32). ONNX is only tried when ``onnxruntime`` imports and the model is an hf_ser model that
  exports (:func:`hf_ser.export.check_exportable`); with OpenVINO's execution provider installed ONNX
  Runtime runs on it. ONNX int8 is used only when asked for (``dtype="int8"``): it passed the rule on the
  shipped calibration clips yet changed 2 of 48 real clips' labels in BENCHMARKS.md §1 (97.9 % top-1
  agreement, under the 99 % that a default must keep), so a handful of calibration clips cannot vouch
  for it.
- CUDA: torch bf16 (fp16 where the GPU has no bf16) -> ONNX Runtime fp32 on ``CUDAExecutionProvider``
  when available -> torch fp32.

A forced ``dtype`` keeps only candidates of that precision (``"int8"``: ONNX int8; ``"float32"``: ONNX
fp32 then torch fp32; ``"bfloat16"`` / ``"float16"``: torch). The export and the decision are cached on
disk (:mod:`hf_ser.inference.export_cache`), so another process on the same weights reuses both.

ONNX graphs return logits and regression values only: ``return_embeddings`` / ``return_frame_weights``
run that call through the torch model instead (in its ``dtype="auto"`` precision), and streaming always
uses torch. Threads: intra-op threads follow hf_ser's thread policy (:mod:`hf_ser.data.threads`: the cores
of the process's CPU affinity, one for small models, ``OMP_NUM_THREADS`` when set) for torch and ONNX
Runtime alike; inter-op 1.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..data.threads import count_parameters, recommended_threads
from . import dtype as dtype_rule
from .backends import ClipOutput, TorchBackend
from .export_cache import (
    ensure_export,
    ensure_file,
    export_dir_for,
    model_hash,
    read_decision,
    write_decision,
)


@dataclass(frozen=True)
class Candidate:
    """One backend / precision to try: ``backend`` ``"onnx"`` or ``"torch"``; ``precision`` ``"int8"``,
    ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``"auto"`` (torch's own bf16 rule); ``providers``:
    ONNX Runtime execution providers."""

    backend: str
    precision: str
    providers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.backend}:{self.precision}"


def single_interop_thread() -> None:
    """One inter-op thread for torch (the graph is one chain of ops; parallelism is within each op).
    torch only allows this before any parallel work; later it keeps its setting, which is harmless."""
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # fixed by earlier parallel work in this process


def onnx_providers() -> Optional[tuple[str, ...]]:
    """ONNX Runtime's available execution providers, or ``None`` when ``onnxruntime`` does not import."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return tuple(onnxruntime.get_available_providers())


def is_exportable(model: Any) -> bool:
    """True for hf_ser models whose graph exports with dynamic axes (see ``check_exportable``)."""
    from ..export.onnx import check_exportable

    config = getattr(model, "config", None)
    if getattr(config, "task", None) is None:  # a plain transformers model: to_onnx is for hf_ser models
        return False
    try:
        check_exportable(config)
    except ValueError:
        return False
    return True


def _onnx_candidates(device: torch.device, providers: Optional[Sequence[str]]) -> list[Candidate]:
    if providers is None:
        return []
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in providers:
            return []
        return [Candidate("onnx", "float32", ("CUDAExecutionProvider", "CPUExecutionProvider"))]
    cpu = ("OpenVINOExecutionProvider",) if "OpenVINOExecutionProvider" in providers else ()
    cpu += ("CPUExecutionProvider",)
    return [Candidate("onnx", "int8", cpu), Candidate("onnx", "float32", cpu)]


def plan_candidates(
    device: torch.device,
    exportable: bool,
    providers: Optional[Sequence[str]],
    bf16: bool,
    dtype: str = "auto",
) -> list[Candidate]:
    """The candidates, fastest first (see the module docstring); ``dtype`` a parsed forced precision."""
    onnx = _onnx_candidates(device, providers) if exportable else []
    if device.type == "cuda":
        plan = [Candidate("torch", "bfloat16" if bf16 else "float16"), *onnx, Candidate("torch", "float32")]
    else:
        plan = [*onnx, Candidate("torch", "auto")]
    if dtype == "auto":
        return [candidate for candidate in plan if candidate.precision != "int8"]  # int8: opt-in only
    forced = [candidate for candidate in plan if candidate.precision == dtype]
    if dtype == "int8":
        if not forced:
            raise ValueError("dtype='int8' needs an ONNX-exportable hf_ser model and onnxruntime on a CPU.")
        return forced
    return [candidate for candidate in forced if candidate.backend == "onnx"] + [Candidate("torch", dtype)]


def rule_description(plan: Sequence[Candidate]) -> dict:
    """What a stored decision was made under; a decision made under another rule is not reused."""
    return {
        "reference": "torch:float32",
        "score_tolerance": dtype_rule.SCORE_TOLERANCE,
        "regression_tolerance": dtype_rule.REGRESSION_TOLERANCE,
        "candidates": [candidate.name for candidate in plan],
        "calibration_clips": sorted(path.name for path in dtype_rule.CALIBRATION_DIR.glob("*.wav")),
    }


def export_onnx(model: Any, feature_extractor: Any, directory: Path, int8: bool) -> Path:
    """Export ``model`` into the cache ``directory`` unless it is there already (and its int8 file when
    ``int8``); returns the directory. The export runs on a CPU copy when the model sits on a GPU."""
    from ..export import onnx as onnx_export

    def write(tmp: Path) -> None:
        on_cpu = all(parameter.device.type == "cpu" for parameter in model.parameters())
        source = model if on_cpu else copy.deepcopy(model).cpu()
        onnx_export.to_onnx(source, tmp, feature_extractor=feature_extractor)

    ensure_export(directory, write)
    if int8:
        ensure_file(
            directory / onnx_export.QUANTIZED_ONNX_FILE,
            lambda tmp: onnx_export.quantize_int8(directory / onnx_export.ONNX_FILE, tmp),
        )
    return directory


class AutoBackend:
    """The backend ``backend="auto"`` builds: runs clips on the chosen candidate (see the module docstring).

    Args:
        model (`PreTrainedModel`): the torch model (reference of the rule, fallback, streaming, embeddings).
        feature_extractor: its feature extractor.
        device (`torch.device`): where to run.
        dtype: ``"auto"`` or a forced precision (``"float32"``, ``"int8"``, ``"bfloat16"``, ``"float16"``).
        source_dir (*optional*): the checkpoint directory the model was loaded from (hashed instead of the
            weights in memory).

    Attributes:
        decision (`dict`): ``backend``, ``precision``, ``providers``, ``rule``, ``checked`` (candidate ->
            accepted) and ``cached`` (whether it came from the disk cache).
    """

    def __init__(
        self,
        model: Any,
        feature_extractor: Any,
        device: torch.device,
        dtype: Any = "auto",
        source_dir: Any = None,
    ) -> None:
        self.torch_model, self.feature_extractor, self.device = model, feature_extractor, device
        self.dtype_request = dtype_rule.parse_dtype(dtype) if dtype != "int8" else "int8"
        self.source_dir = source_dir
        self.threads = recommended_threads(count_parameters(model))  # hf_ser's one thread policy
        single_interop_thread()
        self.plan = plan_candidates(
            device,
            is_exportable(model),
            onnx_providers(),
            dtype_rule.bf16_supported(device),
            self.dtype_request,
        )
        self.decision, self.runner = self._select()
        self.config = self.runner.config
        self.sampling_rate = self.runner.sampling_rate
        self.task = self.runner.task
        self.equal_length_batches = self.runner.equal_length_batches

    # -- selection ---------------------------------------------------------------------------------
    def _select(self) -> tuple[dict, Any]:
        """Reuse the cached decision for these weights, or apply the rule and cache its outcome."""
        if all(candidate.backend == "torch" for candidate in self.plan):  # nothing to export or cache
            return self._decide(None)
        directory = export_dir_for(model_hash(self.torch_model, self.feature_extractor, self.source_dir))
        rule = rule_description(self.plan)
        stored = read_decision(directory, self.device.type, rule)
        if stored is not None:
            candidate = Candidate(stored["backend"], stored["precision"], tuple(stored["providers"]))
            runner = self._try_build(candidate, directory)
            if runner is not None:
                return {**stored, "cached": True}, runner
        decision, runner = self._decide(directory)
        if directory.is_dir():
            write_decision(directory, self.device.type, {**decision, "rule": rule})
        return {**decision, "rule": rule}, runner

    def _decide(self, directory: Optional[Path]) -> tuple[dict, Any]:
        """Try the candidates in order; the first accepted one (or the last) wins."""
        checked: dict[str, bool] = {}
        for candidate in self.plan[:-1]:
            runner = self._try_build(candidate, directory)
            checked[candidate.name] = runner is not None and self._accepted(runner, candidate)
            if checked[candidate.name]:
                return self._decision(candidate, checked, cached=False), runner
        last = self.plan[-1]
        return self._decision(last, checked, cached=False), self._build(last, directory)

    @staticmethod
    def _decision(candidate: Candidate, checked: dict, cached: bool) -> dict:
        return {
            "backend": candidate.backend,
            "precision": candidate.precision,
            "providers": list(candidate.providers),
            "checked": checked,
            "cached": cached,
        }

    def _try_build(self, candidate: Candidate, directory: Optional[Path]) -> Optional[Any]:
        """Build ``candidate``; an ONNX candidate whose export or session fails is skipped with a warning."""
        try:
            return self._build(candidate, directory)
        except Exception as error:  # noqa: BLE001 - the tracer/exporter/onnxruntime raise many types
            if candidate.backend == "torch":
                raise
            warnings.warn(
                f"backend='auto' skips {candidate.name} ({type(error).__name__}: {error}); "
                "trying the next candidate.",
                RuntimeWarning,
                stacklevel=4,
            )
            return None

    def _build(self, candidate: Candidate, directory: Optional[Path]) -> Any:
        if candidate.backend == "torch":
            return TorchBackend(self.torch_model, self.feature_extractor, self.device, candidate.precision)
        from .onnx_backend import OnnxBackend

        export_onnx(self.torch_model, self.feature_extractor, directory, int8=candidate.precision == "int8")
        return OnnxBackend(
            directory,
            feature_extractor=self.feature_extractor,
            dtype=candidate.precision,
            providers=candidate.providers,
            num_threads=self.threads,
        )

    @functools.cached_property
    def _reference(self) -> list[dict]:
        """Torch fp32 outputs of each calibration clip (run alone): the rule's reference."""
        reference = TorchBackend(self.torch_model, self.feature_extractor, self.device, "float32")
        return [reference._run_calibration_clip(clip, "float32") for clip in self._clips]

    @functools.cached_property
    def _clips(self) -> list[np.ndarray]:
        return dtype_rule.calibration_clips(int(getattr(self.feature_extractor, "sampling_rate", 16000)))

    def _accepted(self, runner: Any, candidate: Candidate) -> bool:
        """The rule: every calibration clip keeps its top-1 and stays within the tolerances."""
        precision = "float32" if candidate.backend == "onnx" else candidate.precision
        return all(
            dtype_rule.predictions_agree(expected, runner._run_calibration_clip(clip, precision))
            for clip, expected in zip(self._clips, self._reference, strict=True)
        )

    # -- running -----------------------------------------------------------------------------------
    @property
    def backend_name(self) -> str:
        """``"onnx"`` or ``"torch"``: the backend the rule chose."""
        return self.decision["backend"]

    @property
    def dtype(self) -> str:
        """Precision in use (``"int8"``, ``"float32"``, ``"bfloat16"``, ``"float16"``)."""
        return self.runner.dtype

    @property
    def model(self) -> Any:
        """The torch model (what ``pipe.model`` returns whatever backend runs the clips)."""
        return self.torch_model

    @functools.cached_property
    def torch_backend(self) -> TorchBackend:
        """Torch backend of the same model: streaming and embeddings / frame weights (ONNX has neither)."""
        if self.backend_name == "torch":
            return self.runner
        return TorchBackend(self.torch_model, self.feature_extractor, self.device, "auto")

    def run(
        self, arrays: list[np.ndarray], need_embeddings: bool = False, need_frame_weights: bool = False
    ) -> list[ClipOutput]:
        """Classify a batch on the chosen backend (torch when embeddings or frame weights are asked for).

        int8 graphs quantise activations with one scale per input tensor, so a clip's neighbours in a
        batch would change its result: on int8 each clip runs alone (a prediction depends on the clip
        alone), which costs little on a CPU, where batching padded clips buys almost nothing.
        """
        if need_embeddings or need_frame_weights:
            return self.torch_backend.run(arrays, need_embeddings, need_frame_weights)
        if self.runner.dtype == "int8":
            return [output for array in arrays for output in self.runner.run([array])]
        return self.runner.run(arrays)


__all__ = [
    "AutoBackend",
    "Candidate",
    "export_onnx",
    "is_exportable",
    "onnx_providers",
    "plan_candidates",
    "rule_description",
    "single_interop_thread",
]

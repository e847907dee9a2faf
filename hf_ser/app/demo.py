"""The hf_ser Gradio demo: record or upload speech, see what the model hears.

One app serves both `hf-ser demo` (local, :func:`launch`) and the Hugging Face Space (`spaces/app.py`
imports :func:`build_demo`). It only talks to :func:`hf_ser.pipeline`:

* input: an uploaded file or a microphone recording, and an optional transcript (used by models that read
  text as a second input, ``SERConfig(text_backbone=...)``; ignored by audio-only models);
* model: the built-in default, or a Hub id / local checkpoint directory (from the `HF_SER_MODEL`
  environment variable or the `model=` argument), loaded lazily and cached (at most
  :data:`MAX_CACHED_MODELS`, least recently used dropped first). The model textbox only accepts the
  models the server offers: the built-in one, the configured one and those listed in
  `HF_SER_ALLOWED_MODELS` (comma-separated) or `allowed_models=`; never an arbitrary server path;
* output: the top label, a bar chart of all emotion scores, an arousal/dominance/valence chart for
  dimensional models, an emotion (and A/D/V) over time plot for clips longer than one window, and the
  pooling attention drawn over the waveform;
* errors (no audio, unreadable file, empty, too large or too long recording, model that does not load)
  appear as a readable message in the page that names only the user's file or model, never server
  paths or tracebacks (those go to the server log); size and duration are checked before decoding;
  the app keeps serving;
* the prediction is also the API endpoint `/predict` (one audio file and an optional transcript in; label,
  scores, charts, a JSON summary and a status line out), so `gradio_client` users can call it.

Example:

```python
>>> from hf_ser.app.demo import build_demo
>>> demo = build_demo()                # doctest: +SKIP
>>> demo.launch()                      # doctest: +SKIP
```
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

MODEL_ENV_VARIABLE = "HF_SER_MODEL"
ALLOWED_MODELS_ENV_VARIABLE = "HF_SER_ALLOWED_MODELS"
"""Comma-separated Hub ids / checkpoint directories the model textbox may load (besides the built-in one
and the configured one)."""
MAX_CACHED_MODELS = 3
"""Pipelines kept in memory at once; the least recently used is dropped first."""
DEFAULT_MAX_MEGABYTES = 100.0
"""Larger uploads are refused before decoding (10 min of 48 kHz stereo 16-bit WAV is ~110 MB)."""
QUEUE_CONCURRENCY = 2
"""Analyses that run at once; later requests wait in the queue (one slow clip cannot starve the server)."""
QUEUE_MAX_SIZE = 32
"""Requests allowed to wait; beyond this the server answers "queue full" instead of piling up work."""
TEMP_FILE_AGE_S = 3600
"""Uploads and rendered files are deleted this long after they were written (checked as often), and all of
them when the server stops (Gradio's ``delete_cache``)."""


def launch_settings(max_megabytes: float = DEFAULT_MAX_MEGABYTES) -> dict[str, Any]:
    """Keyword arguments of ``Blocks.launch`` that harden a server: Gradio itself refuses larger uploads
    before they reach the app (the app checks again before decoding)."""
    return {"max_file_size": f"{max_megabytes:g}mb"}
BUILTIN_CHOICE = "Built-in default model"
CUSTOM_CHOICE = "Hub id or local path"
LAUNCH_MODEL_KEY = "(model given at launch)"
DEFAULT_WINDOW_S = 4.0
"""Clips longer than this are classified in windows of this length and get an over-time plot."""
DEFAULT_MAX_SECONDS = 600.0
"""Longer uploads are refused (protects a shared Space from hour-long files)."""
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
REPO_EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------
class ModelCache:
    """Pipelines by model key, built on first use (`""` = the built-in default model), at most
    ``max_models`` at a time (least recently used dropped first; the launch model is always kept).

    Args:
        launch_model: a model object or `SERPipeline` given to :func:`build_demo`; served under
            :data:`LAUNCH_MODEL_KEY`.
        allowed (`Collection[str]`, *optional*): the keys that may be loaded (`None`: any); see
            :func:`allowed_model_keys`.
        max_models (`int`, *optional*, defaults to :data:`MAX_CACHED_MODELS`).
    """

    def __init__(
        self, launch_model: Any = None, *, allowed: Optional[Any] = None, max_models: int = MAX_CACHED_MODELS
    ) -> None:
        self._pipelines: OrderedDict[str, Any] = OrderedDict()
        self._launch = _as_pipeline(launch_model) if launch_model is not None else None
        self.allowed = None if allowed is None else frozenset(allowed)
        self.max_models = max(1, int(max_models))

    def get(self, key: str) -> Any:
        """The pipeline for `key`; raises `ValueError` when it is not offered or does not load (the
        message names only `key`; the reason goes to the server log)."""
        if key == LAUNCH_MODEL_KEY and self._launch is not None:
            return self._launch
        if self.allowed is not None and key not in self.allowed:
            offered = ", ".join(repr(k or "built-in") for k in sorted(self.allowed)) or "the built-in model"
            raise ValueError(f"{key!r} is not offered by this server (available: {offered}).")
        if key not in self._pipelines:
            self._pipelines[key] = _load_pipeline(key)
            while len(self._pipelines) > self.max_models:
                self._pipelines.popitem(last=False)
        self._pipelines.move_to_end(key)
        return self._pipelines[key]

    def __len__(self) -> int:
        return len(self._pipelines)


def _load_pipeline(key: str) -> Any:
    """`pipeline(key)`; any failure becomes a `ValueError` naming only `key` (details are logged)."""
    from ..inference.pipeline import pipeline

    try:
        return pipeline(key or None)
    except Exception as error:
        logger.warning("hf_ser demo: model %r did not load: %s", key, error)
        raise ValueError(
            f"{key!r} is not a loadable hf_ser model (Hub id or checkpoint directory)."
        ) from None


def allowed_model_keys(initial_key: str, extra: Optional[Any] = None) -> frozenset[str]:
    """The models the textbox may load: built-in (`""`), the configured one, `extra` and the
    comma-separated :data:`ALLOWED_MODELS_ENV_VARIABLE`."""
    listed = [key.strip() for key in os.environ.get(ALLOWED_MODELS_ENV_VARIABLE, "").split(",")]
    return frozenset({"", initial_key, *(extra or ()), *(key for key in listed if key)})


def check_upload_size(audio_path: str, max_megabytes: Optional[float]) -> None:
    """Refuse an upload larger than ``max_megabytes`` before it is decoded (a `gradio.Error`)."""
    if max_megabytes is None:
        return
    size = os.path.getsize(audio_path) / 1e6
    if size > max_megabytes:
        raise _user_error(
            f"{Path(audio_path).name} is {size:.1f} MB; this server accepts files up to "
            f"{max_megabytes:g} MB.",
            "File too large",
        )


def _as_pipeline(model: Any) -> Any:
    from ..inference.pipeline import SERPipeline, pipeline

    return model if isinstance(model, SERPipeline) else pipeline(model)


def _describe(key: str) -> str:
    return "the built-in default model" if not key else f"`{key}`"


# --------------------------------------------------------------------------------------------------
# Figures (matplotlib Figure objects: no pyplot global state, safe across request threads)
# --------------------------------------------------------------------------------------------------
def _figure(width: float = 6.0, height: float = 3.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="tight")
    return figure, figure.add_subplot(1, 1, 1)


def scores_figure(scores: dict[str, float]) -> Any:
    """Horizontal bars of every class probability, most likely on top."""
    figure, ax = _figure(6.0, 0.45 * len(scores) + 1.0)
    names, values = list(scores)[::-1], list(scores.values())[::-1]
    bars = ax.barh(names, values, color=["#9ab" for _ in names[:-1]] + ["#e67e22"])
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("probability")
    ax.set_title("Emotion scores")
    return figure


def dimensions_figure(values: dict[str, float]) -> Any:
    """Bars of the dimensional values (arousal, dominance, valence, ...)."""
    figure, ax = _figure(5.0, 2.8)
    bars = ax.bar(list(values), list(values.values()), color="#5dade2")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values.values()], padding=3, fontsize=8)
    low, high = min(0.0, *values.values()), max(1.0, *values.values())
    ax.set_ylim(low - 0.1 * (high - low), high + 0.15 * (high - low))
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_title("Arousal / dominance / valence")
    return figure


def timeline_figure(segments: list[dict], labels: list[str], targets: list[str]) -> Any:
    """Emotion probabilities (and dimensional values) per window, at the window centres."""
    from matplotlib.figure import Figure

    rows = int(bool(labels)) + int(bool(targets))
    figure = Figure(figsize=(7.0, 2.6 * rows), dpi=100, layout="tight")
    axes = [figure.add_subplot(rows, 1, i + 1) for i in range(rows)]
    centres = [(s["start"] + s["end"]) / 2 for s in segments]
    for ax, names, key, title in (
        (axes[0] if labels else None, labels, "scores", "Emotion over time"),
        (axes[-1] if targets else None, targets, None, "Arousal / dominance / valence over time"),
    ):
        if ax is None:
            continue
        for name in names:
            ys = [s[key].get(name, 0.0) if key else s[name] for s in segments]
            ax.plot(centres, ys, marker="o", markersize=3, label=name)
        if key:
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("probability")
        ax.set_title(title)
        ax.set_xlabel("time (s)")
        ax.legend(fontsize=7, ncol=min(4, len(names)), loc="upper right")
    return figure


def attention_figure(
    audio: np.ndarray, sampling_rate: int, spans: list[tuple[float, float, np.ndarray]]
) -> Any:
    """The waveform with the pooling attention over it; `spans` = `(start_s, end_s, frame_weights)`."""
    figure, ax = _figure(7.0, 2.6)
    step = max(1, len(audio) // 4000)
    times = np.arange(0, len(audio), step) / sampling_rate
    ax.plot(times, audio[::step], color="#bbb", linewidth=0.6)
    ax.set_xlabel("time (s)")
    ax.set_yticks([])
    twin = ax.twinx()
    peak = max(float(np.max(w)) for _, _, w in spans) or 1.0
    for start, end, weights in spans:
        frame_times = start + (np.arange(len(weights)) + 0.5) * (end - start) / max(1, len(weights))
        twin.plot(frame_times, weights / peak, color="#c0392b", linewidth=1.2)
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("attention")
    ax.set_title("Where the model listened (pooling attention)")
    return figure


def _frame_weights(value: Any) -> np.ndarray:
    """`(frames,)` or `(frames, heads)` pooling weights -> `(frames,)` (mean over heads)."""
    weights = np.asarray(value, dtype=np.float64)
    return weights.mean(axis=-1) if weights.ndim == 2 else weights


# --------------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------------
def _user_error(message: str, title: str) -> Exception:
    """A `gradio.Error`: shown in the page as a notification, no server traceback (it is expected)."""
    import gradio as gr

    return gr.Error(message, title=title, print_exception=False)


def _text_argument(pipe: Any, transcript: Optional[str]) -> dict:
    """``{"text": transcript}`` for a model that reads text (an empty box = no transcript), else ``{}``."""
    from ..inference.texts import has_text_backbone

    if not has_text_backbone(getattr(pipe, "config", None)):
        return {}
    return {"text": (transcript or "").strip()}


def _run(
    pipe: Any, audio: np.ndarray, chunk_length_s: Optional[float], transcript: Optional[str] = None
) -> dict:
    """Run the pipeline asking for pooling weights; models whose pooling learns none are run without.
    Models that read text get ``transcript``."""
    kwargs = {"sampling_rate": 16000, "chunk_length_s": chunk_length_s, **_text_argument(pipe, transcript)}
    try:
        return pipe(audio, return_frame_weights=True, **kwargs)
    except ValueError:
        return pipe(audio, **kwargs)  # re-raises genuine input errors with their own message


def _summary(result: dict, duration: float, key: str) -> dict:
    """The JSON part of the API answer: everything but arrays."""

    def strip(values: dict) -> dict:
        return {k: v for k, v in values.items() if k not in ("frame_weights", "embedding", "segments")}

    summary = {**strip(result), "duration_s": round(duration, 3), "model": key or "built-in default"}
    if "segments" in result:
        summary["segments"] = [strip(s) for s in result["segments"]]
    return summary


def _load_clip(
    audio_path: Optional[str], max_seconds: float, max_megabytes: Optional[float] = DEFAULT_MAX_MEGABYTES
) -> np.ndarray:
    """Decode the uploaded clip at 16 kHz (size and duration checked first); unusable input becomes a
    `gradio.Error` naming the file only."""
    from ..data.audio import AudioError, load_audio

    if not audio_path:
        raise _user_error("No audio: upload a file or record from the microphone first.", "No audio")
    name = Path(audio_path).name
    check_upload_size(audio_path, max_megabytes)
    try:
        return load_audio(audio_path, 16000, max_seconds=max_seconds)
    except AudioError as error:
        message = str(error).replace(str(audio_path), name)  # the server's temp path means nothing to users
        raise _user_error(message if name in message else f"{name}: {message}", "Bad audio") from error


def _classify(
    models: ModelCache,
    model_key: str,
    audio: np.ndarray,
    name: str,
    window_s: float,
    transcript: Optional[str],
) -> tuple:
    """Load the chosen model and run it (in windows of `window_s` for longer clips): `(pipeline, result)`."""
    try:
        pipe = models.get(model_key)
    except ValueError as error:
        raise _user_error(f"The model {model_key!r} could not be loaded: {error}", "Model error") from error
    chunk = window_s if len(audio) / 16000 > window_s else None
    try:
        return pipe, _run(pipe, audio, chunk, transcript)
    except ValueError as error:
        raise _user_error(f"Cannot classify {name}: {error}", "Bad audio") from error


def _attention_spans(result: dict, duration: float) -> list[tuple]:
    """`(start, end, frame weights)` of each window (or of the whole clip) whose pooling weights came back."""
    segments = result.get("segments") or []
    if segments:
        return [
            (s["start"], s["end"], _frame_weights(s["frame_weights"]))
            for s in segments
            if "frame_weights" in s
        ]
    if "frame_weights" in result:
        return [(0.0, duration, _frame_weights(result["frame_weights"]))]
    return []


def _figures(pipe: Any, result: dict, audio: np.ndarray) -> tuple:
    """The page's plots (`None` where the model has nothing to show): scores, A/D/V, timeline, attention."""
    labels = list(result.get("scores", {}))
    targets = [t for t in getattr(pipe, "regression_targets", []) if t in result]
    segments = result.get("segments") or []
    spans = _attention_spans(result, len(audio) / 16000)
    return (
        scores_figure(result["scores"]) if labels else None,
        dimensions_figure({t: result[t] for t in targets}) if targets else None,
        timeline_figure(segments, labels, targets) if segments else None,
        attention_figure(audio, 16000, spans) if spans else None,
    )


def _status(result: dict, name: str, duration: float, window_s: float, model_key: str, started: float) -> str:
    """The one-line status: top label, clip, windows, model and time taken."""
    segments = result.get("segments") or []
    return (
        f"**{result.get('label', 'dimensional model')}** · {name}, {duration:.1f} s"
        + (f" in {len(segments)} windows of {window_s:g} s" if segments else "")
        + f" · {_describe(model_key)} · {time.perf_counter() - started:.2f} s"
    )


def predict(
    models: ModelCache,
    audio_path: Optional[str],
    model_key: str,
    *,
    window_s: float = DEFAULT_WINDOW_S,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_megabytes: Optional[float] = DEFAULT_MAX_MEGABYTES,
    transcript: Optional[str] = None,
) -> tuple:
    """Everything the page shows for one clip: `(label, scores, A/D/V, timeline, attention, json, status)`.

    ``transcript`` goes to models that read text as a second input (ignored by the others).

    Raises `gradio.Error` with a readable message for unusable input or a model that does not load.
    """
    started = time.perf_counter()
    audio = _load_clip(audio_path, max_seconds, max_megabytes)
    name = Path(audio_path).name
    duration = len(audio) / 16000
    pipe, result = _classify(models, model_key, audio, name, window_s, transcript)
    label = result.get("scores") if result.get("scores", {}) else None
    scores_plot, adv_plot, timeline, attention = _figures(pipe, result, audio)
    summary = _summary(result, duration, model_key)
    status = _status(result, name, duration, window_s, model_key, started)
    return label, scores_plot, adv_plot, timeline, attention, summary, status


# --------------------------------------------------------------------------------------------------
# App
# --------------------------------------------------------------------------------------------------
def _examples(examples_dir: Optional[Union[str, Path]]) -> tuple[list[str], str]:
    """Audio files of the examples folder and its README (which names their sources)."""
    folder = Path(examples_dir) if examples_dir is not None else REPO_EXAMPLES_DIR
    if not folder.is_dir():
        return [], ""
    files = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    readme = folder / "README.md"
    return files, readme.read_text(encoding="utf-8") if readme.is_file() else ""


def build_demo(
    model: Any = None,
    *,
    examples_dir: Optional[Union[str, Path]] = None,
    window_s: float = DEFAULT_WINDOW_S,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    allowed_models: Optional[list[str]] = None,
) -> Any:
    """Build the Gradio Blocks app (see the module docstring).

    Args:
        model: `None` (the `HF_SER_MODEL` environment variable, else the built-in default), a Hub id or
            local checkpoint directory, or a model object / `SERPipeline` to serve.
        examples_dir: folder of example clips (+ README naming their sources); defaults to the
            repository's `examples/`.
        window_s: window length for clips longer than it (emotion over time).
        max_seconds: longest accepted clip.
        allowed_models: more Hub ids / checkpoint directories the model textbox may load (see
            :func:`allowed_model_keys`).
    """
    import gradio as gr

    if model is None:
        model = os.environ.get(MODEL_ENV_VARIABLE) or None
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    initial_key = "" if model is None else model if isinstance(model, str) else LAUNCH_MODEL_KEY
    models = ModelCache(
        None if model is None or isinstance(model, str) else model,
        allowed=allowed_model_keys(initial_key, allowed_models),
    )
    example_files, examples_readme = _examples(examples_dir)

    def run(audio_path: Optional[str], model_key: str, transcript: str = "") -> tuple:
        label, scores, adv, timeline, attention, summary, status = predict(
            models, audio_path, model_key, window_s=window_s, max_seconds=max_seconds, transcript=transcript
        )
        return (
            gr.update(value=label, visible=label is not None),
            gr.update(value=scores, visible=scores is not None),
            gr.update(value=adv, visible=adv is not None),
            gr.update(value=timeline, visible=timeline is not None),
            gr.update(value=attention, visible=attention is not None),
            summary,
            status,
        )

    def choose_model(choice: str, text: str) -> tuple[str, str]:
        key = "" if choice == BUILTIN_CHOICE else (text or "").strip()
        if choice == CUSTOM_CHOICE and not key:
            raise _user_error("Enter a Hub model id (user/name) or a local checkpoint directory.", "No model")
        try:
            models.get(key)
        except ValueError as error:
            raise _user_error(f"The model {key!r} could not be loaded: {error}", "Model error") from error
        return key, f"Using {_describe(key)}."

    cache = (TEMP_FILE_AGE_S, TEMP_FILE_AGE_S)
    with gr.Blocks(title="hf_ser: speech emotion recognition", delete_cache=cache) as demo:
        gr.Markdown(
            "# Speech emotion recognition with hf_ser\n"
            "Upload a clip or record yourself, then press **Analyse**. Clips longer than "
            f"{window_s:g} s are also analysed window by window."
        )
        model_state = gr.State(initial_key)
        with gr.Accordion("Model", open=False, elem_id="model_panel"):
            model_choice = gr.Radio(
                [BUILTIN_CHOICE, CUSTOM_CHOICE],
                label="Serve",
                value=BUILTIN_CHOICE if not initial_key else CUSTOM_CHOICE,
                elem_id="model_choice",
            )
            model_text = gr.Textbox(
                label="Model id or checkpoint directory",
                value=initial_key,
                placeholder="a model this server offers (user/ser-model)",
                elem_id="model_text",
            )
            load_button = gr.Button("Use this model", elem_id="load_model")
        with gr.Row():
            with gr.Column(scale=1):
                audio = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Speech", elem_id="audio"
                )
                transcript = gr.Textbox(
                    label="Transcript (optional; used by models that also read text)",
                    value="",
                    placeholder="what is said in the clip",
                    elem_id="transcript",
                )
                analyse = gr.Button("Analyse", variant="primary", elem_id="analyse")
                status = gr.Markdown(f"Using {_describe(initial_key)}.", elem_id="status")
                if example_files:
                    gr.Examples(examples=[[f] for f in example_files], inputs=[audio], label="Example clips")
                    if examples_readme:
                        with gr.Accordion("About the example clips", open=False):
                            gr.Markdown(examples_readme)
            with gr.Column(scale=2):
                label = gr.Label(num_top_classes=3, label="Emotion", elem_id="label")
                scores_plot = gr.Plot(label="Emotion scores", elem_id="scores_plot")
                adv_plot = gr.Plot(label="Arousal / dominance / valence", visible=False, elem_id="adv_plot")
                timeline_plot = gr.Plot(label="Over time", visible=False, elem_id="timeline_plot")
                attention_plot = gr.Plot(label="Pooling attention", visible=False, elem_id="attention_plot")
                with gr.Accordion("JSON", open=False):
                    summary = gr.JSON(label="Result")
        load_button.click(
            choose_model,
            inputs=[model_choice, model_text],
            outputs=[model_state, status],
            api_visibility="private",
        )
        analyse.click(
            run,
            inputs=[audio, model_state, transcript],
            outputs=[label, scores_plot, adv_plot, timeline_plot, attention_plot, summary, status],
            api_name="predict",
            api_description="Classify the emotion in one audio file (and its optional transcript).",
        )
    return demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)


def launch(host: str = "127.0.0.1", port: Optional[int] = None, model: Any = None, **kwargs: Any) -> Any:
    """Build and serve the demo (used by `hf-ser demo`) on `host` (loopback by default); return the Blocks.

    `port=None` takes `GRADIO_SERVER_PORT`, else the first free port from 7860. Extra keyword arguments
    go to `Blocks.launch`; it blocks until stopped unless `prevent_thread_lock=True` (then stop it with
    `.close()` on the returned Blocks, whose `.local_url` is the address).
    """
    demo = build_demo(model)
    demo.launch(server_name=host, server_port=port, **{**launch_settings(), **kwargs})
    return demo


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `hf-ser demo` (mirrors :func:`launch`)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on (default: loopback only)")
    parser.add_argument("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT or 7860+)")
    parser.add_argument(
        "--model",
        default=None,
        help=f"Hub id or checkpoint dir (default: ${MODEL_ENV_VARIABLE} or built-in)",
    )
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """`hf-ser demo`: :func:`launch` with the parsed flags (blocks until interrupted)."""
    launch(host=args.host, port=args.port, model=args.model)
    return 0


def main() -> None:
    """Serve the demo as a Space does: host/port from `GRADIO_SERVER_NAME` / `GRADIO_SERVER_PORT`."""
    build_demo().launch()


if __name__ == "__main__":
    main()

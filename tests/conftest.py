"""Shared pytest fixtures: real clips from the shared corpora and tiny random backbones.

Tests never touch the network (``HF_HUB_OFFLINE=1``); real audio comes from ``HF_SER_DATA_DIR``
(default: ``<repo>/../shared/data``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# backend="auto" caches ONNX exports and decisions: one fresh cache per test session, never ~/.cache.
os.environ["HF_SER_CACHE"] = tempfile.mkdtemp(prefix="hf_ser_test_cache-")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402
import torch  # noqa: E402

# Tiny models gain nothing from intra-op threads, and on a shared 2-core machine extra threads only
# contend: one thread keeps the suite fast (override with HF_SER_TEST_THREADS).
torch.set_num_threads(int(os.environ.get("HF_SER_TEST_THREADS", "1")))

REQUIRE_SYSTEM_PACKAGES = os.environ.get("HF_SER_REQUIRE_SYSTEM_PACKAGES", "") not in ("", "0")
"""``.ci/run`` sets ``HF_SER_REQUIRE_SYSTEM_PACKAGES=1``: there a missing system package fails its tests."""


def require_system_package(available: bool, debian_packages: tuple[str, ...], enables: str) -> None:
    """Skip (fail under ``HF_SER_REQUIRE_SYSTEM_PACKAGES=1``) a test whose system package is missing.

    The one-line reason names the Debian package, so a newcomer's fresh machine passes the README's test
    command while CI, which installs everything, still runs the test.
    """
    if available:
        return
    names = " and ".join(debian_packages)
    reason = f"needs Debian's {names} for {enables} (apt-get install {' '.join(debian_packages)})"
    if REQUIRE_SYSTEM_PACKAGES:
        pytest.fail(reason + "; HF_SER_REQUIRE_SYSTEM_PACKAGES=1 makes this an error", pytrace=False)
    pytest.skip(reason)


# A few EmoDB clips (speaker 03) of different emotions, cut to different lengths so batches need padding.
EMODB_CLIPS = {"03a01Wa.flac": 0.6, "03a01Nc.flac": 1.0, "03a02Ta.flac": 0.8, "03a01Fa.flac": 0.7}

TINY_BACKBONE_KWARGS: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 37,
    # 320x downsampling (50 frames/s) like real wav2vec2 models: short sequences keep tests fast.
    "conv_dim": (32, 32, 32, 32),
    "conv_kernel": (10, 8, 4, 4),
    "conv_stride": (5, 4, 4, 4),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
    # Per-frame layer norm in the conv stack: padding-invariant (group norm is not, see modeling_ser).
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "layerdrop": 0.0,
    "mask_time_prob": 0.0,
}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Directory of the shared real corpora (``emodb/``, ``urdu/``)."""
    directory = Path(
        os.environ.get("HF_SER_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    if not (directory / "emodb").is_dir():
        raise FileNotFoundError(f"Shared data not found at {directory}; set HF_SER_DATA_DIR.")
    return directory


def read_clip(path: Path, seconds: float | None = None, sampling_rate: int = 16000) -> np.ndarray:
    """Read a file with soundfile, mix to mono, resample with soxr, optionally keep the first ``seconds``."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = soxr.resample(audio.mean(axis=1), rate, sampling_rate).astype(np.float32)
    return audio[: int(seconds * sampling_rate)] if seconds is not None else audio


@pytest.fixture(scope="session")
def emodb_clips(data_dir: Path) -> list[np.ndarray]:
    """Four real EmoDB clips, 16 kHz float32 mono, 0.6-1.0 s long (all different lengths)."""
    return [read_clip(data_dir / "emodb" / name, seconds) for name, seconds in EMODB_CLIPS.items()]


def make_tiny_backbone_config(model_type: str = "wav2vec2", **overrides: Any) -> Any:
    """A tiny random backbone config of ``model_type`` (:data:`TINY_BACKBONE_KWARGS` plus ``overrides``)."""
    from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

    classes = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}
    return classes[model_type](**{**TINY_BACKBONE_KWARGS, **overrides})


@pytest.fixture(scope="session")
def tiny_backbone_config() -> Callable[..., Any]:
    """Factory: ``tiny_backbone_config("wavlm", num_hidden_layers=1)`` -> a tiny random backbone config."""
    return make_tiny_backbone_config


@pytest.fixture
def tiny_wav2vec2_config(tiny_backbone_config: Callable[..., Any]) -> Any:
    """A tiny wav2vec2 config (hidden 32, 2 layers, layer-norm feature encoder)."""
    return tiny_backbone_config("wav2vec2")


def make_feature_extractor() -> Any:
    """The SSL models' feature extractor (16 kHz, normalised, always returns an attention mask)."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True)


@pytest.fixture(scope="session")
def feature_extractor() -> Any:
    """The SSL models' feature extractor (16 kHz, normalised, always returns an attention mask)."""
    return make_feature_extractor()


TINY_LABELS = {0: "anger", 1: "happiness", 2: "neutral", 3: "sadness"}


def make_tiny_ser_model(
    model_type: str = "wav2vec2", seed: int = 0, backbone_overrides: dict | None = None, **config: Any
) -> Any:
    """A tiny random hf_ser model in eval mode (see the :func:`tiny_ser_model` fixture)."""
    from hf_ser import SERConfig, SERModelForAudioClassification

    config.setdefault("projector_size", 16)
    config.setdefault("pooling_attention_size", 8)
    if config.get("task", "classification") != "regression":
        config.setdefault("id2label", dict(TINY_LABELS))
    torch.manual_seed(seed)
    backbone = make_tiny_backbone_config(model_type, **(backbone_overrides or {}))
    return SERModelForAudioClassification(SERConfig(backbone_config=backbone, **config)).eval()


@pytest.fixture(scope="session")
def tiny_ser_model() -> Callable[..., Any]:
    """Factory for tiny random hf_ser models in eval mode.

    ``tiny_ser_model(task="multitask", pooling="attentive_stats", model_type="wavlm", seed=0, **config)``;
    classification / multitask models get the four labels of :data:`TINY_LABELS`.
    """
    return make_tiny_ser_model


def save_checkpoint(model: Any, directory: Path, extractor: Any = None) -> Path:
    """Save ``model`` and its feature extractor (default: :func:`make_feature_extractor`)."""
    model.save_pretrained(directory)
    (extractor if extractor is not None else make_feature_extractor()).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: save a tiny hf_ser checkpoint (model + feature extractor) in a new directory, return it.

    ``tiny_checkpoint(name="checkpoint", model=None, extractor=None, **model_kwargs)``: ``model`` (e.g.
    one trained or edited by the test) is saved as given; without it one is built with
    ``tiny_ser_model(**model_kwargs)``. ``extractor`` defaults to the SSL feature extractor. The one
    place tests write checkpoints; session-scoped so that module- and session-scoped fixtures can use it.
    """

    def make(name: str = "checkpoint", model: Any = None, extractor: Any = None, **model_kwargs: Any) -> Path:
        if model is None:
            model = make_tiny_ser_model(**model_kwargs)
        elif model_kwargs:
            raise TypeError(f"Pass either a model or model options, not both: {sorted(model_kwargs)}.")
        return save_checkpoint(model, tmp_path_factory.mktemp(name), extractor)

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tiny_checkpoint: Callable[..., Path]) -> Path:
    """A saved tiny hf_ser classifier (attentive-stats pooling, :data:`TINY_LABELS`) + its feature extractor.

    Session-scoped and read-only: copy it before writing next to it.
    """
    return tiny_checkpoint("tiny_checkpoint", pooling="attentive_stats", seed=0)

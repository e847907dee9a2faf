"""Shared pytest fixtures: real clips from the shared corpora and tiny random backbones.

Tests never touch the network (``HF_HUB_OFFLINE=1``); real audio comes from ``HF_SER_DATA_DIR``
(default: ``<repo>/../shared/data``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
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


@pytest.fixture
def tiny_backbone_config() -> Callable[..., Any]:
    """Factory: ``tiny_backbone_config("wavlm", num_hidden_layers=1)`` -> a tiny random backbone config."""
    from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

    classes = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}

    def make(model_type: str = "wav2vec2", **overrides: Any) -> Any:
        return classes[model_type](**{**TINY_BACKBONE_KWARGS, **overrides})

    return make


@pytest.fixture
def tiny_wav2vec2_config(tiny_backbone_config: Callable[..., Any]) -> Any:
    """A tiny wav2vec2 config (hidden 32, 2 layers, layer-norm feature encoder)."""
    return tiny_backbone_config("wav2vec2")


@pytest.fixture(scope="session")
def feature_extractor() -> Any:
    """The SSL models' feature extractor (16 kHz, normalised, always returns an attention mask)."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True)


TINY_LABELS = {0: "anger", 1: "happiness", 2: "neutral", 3: "sadness"}


@pytest.fixture
def tiny_ser_model(tiny_backbone_config: Callable[..., Any]) -> Callable[..., Any]:
    """Factory for tiny random hf_ser models in eval mode.

    ``tiny_ser_model(task="multitask", pooling="attentive_stats", model_type="wavlm", seed=0, **config)``;
    classification / multitask models get the four labels of :data:`TINY_LABELS`.
    """
    from hf_ser import SERConfig, SERModelForAudioClassification

    def make(
        model_type: str = "wav2vec2", seed: int = 0, backbone_overrides: dict | None = None, **config: Any
    ):
        config.setdefault("projector_size", 16)
        config.setdefault("pooling_attention_size", 8)
        if config.get("task", "classification") != "regression":
            config.setdefault("id2label", dict(TINY_LABELS))
        torch.manual_seed(seed)
        backbone = tiny_backbone_config(model_type, **(backbone_overrides or {}))
        return SERModelForAudioClassification(SERConfig(backbone_config=backbone, **config)).eval()

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny hf_ser classifier (attentive-stats pooling, :data:`TINY_LABELS`) + its feature extractor.

    Session-scoped and read-only: copy it before writing next to it.
    """
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    from hf_ser import SERConfig, SERModelForAudioClassification

    torch.manual_seed(0)
    config = SERConfig(
        backbone_config=Wav2Vec2Config(**TINY_BACKBONE_KWARGS),
        id2label=dict(TINY_LABELS),
        pooling="attentive_stats",
        projector_size=16,
        pooling_attention_size=8,
    )
    directory = tmp_path_factory.mktemp("tiny_checkpoint")
    SERModelForAudioClassification(config).eval().save_pretrained(directory)
    Wav2Vec2FeatureExtractor(
        sampling_rate=16000, return_attention_mask=True, do_normalize=True
    ).save_pretrained(directory)
    return directory

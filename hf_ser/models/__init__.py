"""Self-contained modelling code of hf_ser (copied next to checkpoints for ``trust_remote_code``).

Modules here import only torch, transformers, numpy and their siblings (relative imports);
:mod:`.audio_features` imports numpy only. The names below are loaded on first access (PEP 562), so
``import hf_ser.models.audio_features`` does not import torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LSTMSAConfig": "configuration_lstm_sa",
    "LSTMSAForAudioClassification": "modeling_lstm_sa",
    "MfccChromaFeatureExtractor": "feature_extraction_mfcc_chroma",
    "SERConfig": "configuration_ser",
    "SERModelForAudioClassification": "modeling_ser",
    "SERModelOutput": "outputs",
    "SERPreTrainedModel": "modeling_ser",
    "Wav2SmallConfig": "configuration_student",
    "Wav2SmallForAudioClassification": "modeling_student",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access and cache the attribute."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Registration of hf_ser models with transformers' Auto classes.

After ``import hf_ser``, ``AutoConfig``, ``AutoModelForAudioClassification`` and ``AutoFeatureExtractor``
load hf_ser checkpoints like any transformers model, and ``save_pretrained`` writes an ``auto_map`` plus
the modelling code so the checkpoint also loads with ``trust_remote_code=True`` where hf_ser is absent.

Adding a model family is one row in :data:`AUTO_CLASS_TABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    FeatureExtractionMixin,
    PreTrainedConfig,
    PreTrainedModel,
    Wav2Vec2FeatureExtractor,
)

from .models.configuration_lstm_sa import LSTMSAConfig
from .models.configuration_ser import SERConfig
from .models.configuration_student import Wav2SmallConfig
from .models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor
from .models.modeling_lstm_sa import LSTMSAForAudioClassification
from .models.modeling_ser import SERModelForAudioClassification
from .models.modeling_student import Wav2SmallForAudioClassification


@dataclass(frozen=True)
class AutoRegistration:
    """One model family: its config, its audio-classification model and its feature extractor.

    ``feature_extractor_class`` may be a transformers class (e.g. ``Wav2Vec2FeatureExtractor``: it is
    mapped to the config but needs no code copy) or an hf_ser class (registered for remote code too).
    """

    config_class: type[PreTrainedConfig]
    model_class: type[PreTrainedModel]
    feature_extractor_class: Optional[type[FeatureExtractionMixin]] = None


AUTO_CLASS_TABLE: list[AutoRegistration] = [
    AutoRegistration(SERConfig, SERModelForAudioClassification, Wav2Vec2FeatureExtractor),
    AutoRegistration(LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor),
    AutoRegistration(Wav2SmallConfig, Wav2SmallForAudioClassification, Wav2Vec2FeatureExtractor),
]

_registered: set[AutoRegistration] = set()


def _is_transformers_class(cls: type) -> bool:
    return cls.__module__.startswith("transformers.")


def register_auto_classes() -> None:
    """Register every row of :data:`AUTO_CLASS_TABLE` with the Auto classes. Safe to call repeatedly."""
    for row in AUTO_CLASS_TABLE:
        if row in _registered:
            continue
        AutoConfig.register(row.config_class.model_type, row.config_class, exist_ok=True)
        AutoModelForAudioClassification.register(row.config_class, row.model_class, exist_ok=True)
        row.config_class.register_for_auto_class("AutoConfig")
        row.model_class.register_for_auto_class("AutoModelForAudioClassification")
        if row.feature_extractor_class is not None:
            AutoFeatureExtractor.register(row.config_class, row.feature_extractor_class, exist_ok=True)
            if not _is_transformers_class(row.feature_extractor_class):
                row.feature_extractor_class.register_for_auto_class("AutoFeatureExtractor")
        _registered.add(row)

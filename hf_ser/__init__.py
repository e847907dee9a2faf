"""hf_ser: speech emotion recognition for the Hugging Face ecosystem.

``import hf_ser`` registers the hf_ser model family with transformers' Auto classes, so
``AutoModelForAudioClassification.from_pretrained(...)`` and ``pipeline("audio-classification", ...)``
work on hf_ser checkpoints.
"""

from .auto import AUTO_CLASS_TABLE, AutoRegistration, register_auto_classes
from .inference.pipeline import SERPipeline, pipeline
from .models import (
    LSTMSAConfig,
    LSTMSAForAudioClassification,
    MfccChromaFeatureExtractor,
    SERConfig,
    SERModelForAudioClassification,
    SERModelOutput,
    SERPreTrainedModel,
    Wav2SmallConfig,
    Wav2SmallForAudioClassification,
)
from .models.convert import convert_checkpoint
from .training.lora import ParameterCount, add_lora, count_parameters, load_lora
from .version import __version__

register_auto_classes()

__all__ = [
    "AUTO_CLASS_TABLE",
    "AutoRegistration",
    "LSTMSAConfig",
    "LSTMSAForAudioClassification",
    "MfccChromaFeatureExtractor",
    "ParameterCount",
    "SERConfig",
    "SERModelForAudioClassification",
    "SERModelOutput",
    "SERPipeline",
    "SERPreTrainedModel",
    "Wav2SmallConfig",
    "Wav2SmallForAudioClassification",
    "__version__",
    "add_lora",
    "convert_checkpoint",
    "count_parameters",
    "load_lora",
    "pipeline",
    "register_auto_classes",
]

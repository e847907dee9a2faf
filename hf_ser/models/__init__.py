"""Self-contained modelling code of hf_ser (copied next to checkpoints for ``trust_remote_code``).

Modules here import only torch, transformers, numpy and their siblings (relative imports).
"""

from .configuration_lstm_sa import LSTMSAConfig
from .configuration_ser import SERConfig
from .configuration_student import Wav2SmallConfig
from .feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor
from .modeling_lstm_sa import LSTMSAForAudioClassification
from .modeling_ser import SERModelForAudioClassification, SERPreTrainedModel
from .modeling_student import Wav2SmallForAudioClassification
from .outputs import SERModelOutput

__all__ = [
    "LSTMSAConfig",
    "LSTMSAForAudioClassification",
    "MfccChromaFeatureExtractor",
    "SERConfig",
    "SERModelForAudioClassification",
    "SERModelOutput",
    "SERPreTrainedModel",
    "Wav2SmallConfig",
    "Wav2SmallForAudioClassification",
]

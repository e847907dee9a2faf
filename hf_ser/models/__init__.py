"""Self-contained modelling code of hf_ser (copied next to checkpoints for ``trust_remote_code``).

Modules here import only torch, transformers, numpy and their siblings (relative imports).
"""

from .configuration_ser import SERConfig
from .modeling_ser import SERModelForAudioClassification, SERPreTrainedModel
from .outputs import SERModelOutput

__all__ = ["SERConfig", "SERModelForAudioClassification", "SERModelOutput", "SERPreTrainedModel"]

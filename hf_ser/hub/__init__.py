"""Publish hf_ser models and the demo Space on the Hugging Face Hub.

- :mod:`~hf_ser.hub.staging`: the one stage -> check -> upload path and :class:`PublishResult`.
- :mod:`~hf_ser.hub.remote_code`: the modelling code shipped for ``trust_remote_code`` loading.
- :mod:`~hf_ser.hub.model`: :func:`publish` (a trained run as a model repo, with its card and checks).
- :mod:`~hf_ser.hub.space`: :func:`publish_space` (the Gradio demo as a Space).
"""

from .model import check_model_folder, publish
from .remote_code import write_modelling_code
from .space import check_space_folder, publish_space
from .staging import PublishResult

__all__ = [
    "PublishResult",
    "check_model_folder",
    "check_space_folder",
    "publish",
    "publish_space",
    "write_modelling_code",
]

"""Deprecated module path of :mod:`hf_ser.inference.pipeline` (kept for one release).

``from hf_ser import pipeline`` (the function) is unaffected and stays. Importing this module by its old
path (``import hf_ser.pipeline`` / ``from hf_ser.pipeline import SERPipeline``) warns; because Python then
binds ``hf_ser.pipeline`` to this module, the module is made callable as the function, so
``hf_ser.pipeline(...)`` keeps working either way.
"""

import sys
import types

from ._deprecation import warn_moved
from .inference import pipeline as _moved
from .inference.pipeline import *  # noqa: F403
from .inference.pipeline import DEFAULT_MODEL_DIR, SERPipeline, pipeline  # noqa: F401

warn_moved("hf_ser.pipeline (the module)", "hf_ser.inference.pipeline")

__all__ = list(_moved.__all__)


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`hf_ser.inference.pipeline.pipeline`."""

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return pipeline(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""hf_ser: speech emotion recognition for the Hugging Face ecosystem.

``import hf_ser`` registers the hf_ser model family with transformers' Auto classes, so
``AutoModelForAudioClassification.from_pretrained(...)`` and ``pipeline("audio-classification", ...)``
work on hf_ser checkpoints.

The import itself is light (no torch, no transformers: ``hf-ser --help`` stays fast). The public names
below load on first use (PEP 562 ``__getattr__``), and the Auto-class registration happens as soon as
transformers' Auto modules exist: at once when transformers is already imported, otherwise through a
small import hook that registers right after ``transformers.models.auto.{configuration,modeling,
feature_extraction}_auto`` execute, and also whenever one of the names below is first accessed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

from .version import __version__ as __version__

_PUBLIC: dict[str, str] = {
    "AUTO_CLASS_TABLE": ".auto",
    "AutoRegistration": ".auto",
    "register_auto_classes": ".auto",
    "SERPipeline": ".inference.pipeline",
    "pipeline": ".inference.pipeline",
    "LabelSummary": ".labelling",
    "label": ".labelling",
    "LSTMSAConfig": ".models",
    "LSTMSAForAudioClassification": ".models",
    "MfccChromaFeatureExtractor": ".models",
    "SERConfig": ".models",
    "SERModelForAudioClassification": ".models",
    "SERModelOutput": ".models",
    "SERPreTrainedModel": ".models",
    "SERProcessor": ".data.processor",
    "Wav2SmallConfig": ".models",
    "Wav2SmallForAudioClassification": ".models",
    "convert_checkpoint": ".models.convert",
    "ParameterCount": ".training.lora",
    "add_lora": ".training.lora",
    "count_parameters": ".training.lora",
    "load_lora": ".training.lora",
}
"""Public name -> the module that defines it (imported on first access)."""

__all__ = sorted([*_PUBLIC, "__version__"])

_AUTO_MODULES = frozenset(
    f"transformers.models.auto.{name}_auto" for name in ("configuration", "modeling", "feature_extraction")
)
_WATCHED_PACKAGES = ("transformers", __name__)
"""Packages whose module loaders the import hook wraps. Registering imports ``hf_ser.auto``, the models
and transformers' Auto classes; doing so while one of them is half initialised (``import hf_ser.auto``
itself reaches transformers' Auto modules) fails, so the hook waits until the outermost import of these
packages is done."""
_state = {"registering": False, "depth": 0}


def _register() -> None:
    """Register the hf_ser family with transformers' Auto classes (idempotent, never re-entered)."""
    if _state["registering"]:
        return
    _state["registering"] = True
    try:
        importlib.import_module(".auto", __name__).register_auto_classes()
        _uninstall_hook()
    finally:
        _state["registering"] = False


def __getattr__(name: str) -> Any:
    """Import a public name on first access (and make sure the Auto classes know hf_ser)."""
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    if _state["depth"] == 0:  # inside a watched import the hook registers once that import is done
        _register()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


class _RegisteringLoader(importlib.abc.Loader):
    """Wraps the loader of a watched module (:data:`_WATCHED`): run it, then register hf_ser."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        """Run the module; once the outermost watched import is complete, register (if transformers'
        Auto modules are there). Registering any earlier would import half-initialised modules."""
        _state["depth"] += 1
        try:
            self._loader.exec_module(module)
        finally:
            _state["depth"] -= 1
        if _state["depth"] == 0 and not _AUTO_MODULES.isdisjoint(sys.modules):
            _register()


class _AutoRegistrationFinder(importlib.abc.MetaPathFinder):
    """Finds the watched modules with the normal machinery and wraps their loaders."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not any(fullname == name or fullname.startswith(name + ".") for name in _WATCHED_PACKAGES):
            return None
        sys.meta_path.remove(self)  # find the real spec without finding ourselves again
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _uninstall_hook() -> None:
    """Remove the import hook (registration is done)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _AutoRegistrationFinder)]


def _install_registration() -> None:
    """Register now if transformers is already imported, else once its Auto modules are imported."""
    if "transformers" in sys.modules:
        _register()
    elif not any(isinstance(finder, _AutoRegistrationFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AutoRegistrationFinder())


_install_registration()

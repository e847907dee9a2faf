"""The self-contained modelling code published next to a model, for ``trust_remote_code`` loading.

The code is always the installed hf_ser's (:func:`write_modelling_code`), never the `.py` copies in a run
directory: `save_pretrained` copied the code of the hf_ser version that trained the run, which may be older
than the one that publishes it (and than the one `import hf_ser` loads it with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .staging import PathLike


def auto_map_name(cls: type) -> str:
    """How an `auto_map` names a class: `<module file stem>.<class name>` (as `custom_object_save` does)."""
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def rewrite_json(path: Path, **updates: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(updates)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_modelling_code(folder: PathLike, *, include_model: bool = True) -> list[str]:
    """Replace the `.py` files in `folder` by the installed hf_ser's code for the model saved there.

    `folder` holds a `config.json` of an hf_ser model (and usually a `preprocessor_config.json`). Its `.py`
    files are deleted; the modules defining the config class, the model class (`include_model=True`; an
    ONNX export needs only the config) and an hf_ser feature extractor are copied from the installed
    package with transformers' own mechanism (`custom_object_save`, which `save_pretrained` uses; it
    follows the relative imports), and the `auto_map` entries of both JSON files are pointed at them. The
    weights are not touched.

    Returns:
        `list[str]`: the `.py` files now in `folder`, sorted.

    Raises:
        `ValueError`: `config.json`'s `model_type` is not one of hf_ser's (they are listed).
    """
    from transformers.dynamic_module_utils import custom_object_save

    from ..auto import AUTO_CLASS_TABLE

    folder = Path(folder)
    config_path = folder / "config.json"
    model_type = json.loads(config_path.read_text(encoding="utf-8")).get("model_type")
    row = next((r for r in AUTO_CLASS_TABLE if r.config_class.model_type == model_type), None)
    if row is None:
        known = ", ".join(repr(r.config_class.model_type) for r in AUTO_CLASS_TABLE)
        raise ValueError(
            f"{config_path} has model_type {model_type!r}, which is not an hf_ser model ({known}), so "
            "hf_ser cannot write its modelling code."
        )
    for stale in folder.glob("*.py"):
        stale.unlink()
    classes = {"AutoConfig": row.config_class}
    if include_model:
        classes["AutoModelForAudioClassification"] = row.model_class
    for cls in classes.values():
        custom_object_save(cls, folder)
    rewrite_json(config_path, auto_map={key: auto_map_name(cls) for key, cls in classes.items()})

    preprocessor_path = folder / "preprocessor_config.json"
    if preprocessor_path.is_file():
        name = json.loads(preprocessor_path.read_text(encoding="utf-8")).get("feature_extractor_type")
        own_extractors = {
            r.feature_extractor_class.__name__: r.feature_extractor_class
            for r in AUTO_CLASS_TABLE
            if r.feature_extractor_class is not None
            and r.feature_extractor_class.__module__.startswith(__package__ + ".")
        }
        extractor = own_extractors.get(name)
        if extractor is not None:  # transformers' own extractors (Wav2Vec2FeatureExtractor) need no code
            custom_object_save(extractor, folder)
            rewrite_json(preprocessor_path, auto_map={"AutoFeatureExtractor": auto_map_name(extractor)})
    return sorted(p.name for p in folder.glob("*.py"))


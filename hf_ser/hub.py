"""Publish hf_ser models and the demo Space on the Hugging Face Hub.

:func:`publish` stages a run directory into exactly the folder that goes to the Hub - model weights
(safetensors only), config, feature extractor, the self-contained modelling code for
`trust_remote_code`, metrics and plots, an ONNX export, the adapter-only weights of LoRA runs and a
freshly rendered model card - then checks that folder before anything leaves the machine.

The modelling code is always the installed hf_ser's (:func:`write_modelling_code`), never the `.py`
copies in the run directory: `save_pretrained` copied the code of the hf_ser version that trained the
run, which may be older than the one that publishes it (and than the one `import hf_ser` loads it with).

The checks:

1. it loads with `AutoModelForAudioClassification` / `AutoFeatureExtractor` after `import hf_ser` and
   gives finite outputs of the right shape;
2. it loads with `trust_remote_code=True` in a subprocess where `hf_ser` cannot be imported, with the
   same outputs;
3. its card metadata validates (offline, :func:`hf_ser.cards.validate_model_card`);
4. it holds no pickle files;
5. its ONNX export (when shipped) gives PyTorch's outputs in onnxruntime.

With `dry_run=True` that is all: the folder stays on disk for inspection. Otherwise the upload is a
thin wrapper over huggingface_hub (`create_repo` + `upload_folder`); the token comes from the usual
places (`token=`, `HF_TOKEN`, `hf auth login`).

:func:`publish_space` does the same for the Gradio demo in `spaces/`.

Example:

```python
>>> from hf_ser.hub import publish
>>> result = publish("runs/emodb", "me/ser-emodb", dry_run=True)      # doctest: +SKIP
>>> sorted(result.checks)                                             # doctest: +SKIP
['auto_classes', 'model_card', 'no_pickles', 'trust_remote_code']
```
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .cards import card_data_from_run, render_model_card, validate_model_card

PathLike = Union[str, "os.PathLike[str]"]

MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".yaml", ".yml", ".png", ".txt", ".md")
"""Top-level files of a run directory that are uploaded (the card `README.md` is always re-rendered; `.py`
modelling code is written fresh by :func:`write_modelling_code`)."""
SKIPPED_FILES = (
    "trainer_state.json",
    "README.md",
    "all_results.json",
    "train_results.json",
    "eval_results.json",
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz")
"""Never uploaded: these formats can execute code when loaded (hf_ser ships safetensors only)."""
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
ADAPTER_DIRS = ("adapter", "lora_adapter")
"""Where a run keeps the LoRA adapter next to its merged model (hf_ser's recipes write `lora_adapter/`)."""
REPORT_DIR = "report"
DRY_RUN_DIR = "hub_dry_run"
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
SPACE_MODEL_VARIABLE = "HF_SER_MODEL"
PROBE_SECONDS = 1.0
ATOL = 1e-4
ONNX_ATOL = 1e-3

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")


@dataclass
class PublishResult:
    """What :func:`publish` / :func:`publish_space` staged, checked and (unless a dry run) uploaded.

    Args:
        repo_id (`str`): target repository.
        folder (`Path`): the staged folder (kept for dry runs; a deleted temporary folder otherwise).
        files (`list[str]`): staged files, relative to `folder`, sorted.
        skipped (`dict[str, str]`): run files left out, with the reason.
        checks (`dict[str, str]`): each check that passed, with what it verified.
        dry_run (`bool`): nothing was uploaded.
        url (`str`, *optional*): commit URL of the upload.
        space_variables (`dict[str, str]`): Space variables set (or, in a dry run, to set).
    """

    repo_id: str
    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    dry_run: bool = True
    url: Optional[str] = None
    space_variables: dict[str, str] = field(default_factory=dict)


def _check_repo_id(repo_id: Any) -> str:
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(
            f"repo_id must look like 'user/name' (letters, digits, '-', '_', '.'), got {repo_id!r}."
        )
    return repo_id


def _prepare_folder(folder: Optional[PathLike], default: Path) -> Path:
    """An empty staging folder; the default dry-run folder is ours to wipe, a user's folder must be empty."""
    path = Path(folder) if folder is not None else default
    if path.exists() and any(path.iterdir()):
        if folder is not None:
            raise ValueError(f"Staging folder {path} is not empty; pass an empty or new folder.")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------
# Staging a model
# --------------------------------------------------------------------------------------------------
def _auto_map_name(cls: type) -> str:
    """How an `auto_map` names a class: `<module file stem>.<class name>` (as `custom_object_save` does)."""
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _rewrite_json(path: Path, **updates: Any) -> None:
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

    from .auto import AUTO_CLASS_TABLE

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
    _rewrite_json(config_path, auto_map={key: _auto_map_name(cls) for key, cls in classes.items()})

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
            _rewrite_json(preprocessor_path, auto_map={"AutoFeatureExtractor": _auto_map_name(extractor)})
    return sorted(p.name for p in folder.glob("*.py"))


def _merge_adapter(run_dir: Path, stage: Path) -> None:
    """Adapter-only run: load its base model, apply the adapter, merge, and save the merged model."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from .auto import register_auto_classes
    from .lora import load_lora

    register_auto_classes()
    base = json.loads((run_dir / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise ValueError(
            f"{run_dir / 'adapter_config.json'} names no base_model_name_or_path, so the adapter cannot "
            "be merged; save the merged model (peft_model.merge_and_unload().save_pretrained(run_dir)) "
            "and publish again."
        )
    model = load_lora(AutoModelForAudioClassification.from_pretrained(base), run_dir).merge_and_unload()
    model.save_pretrained(stage)
    source = run_dir if (run_dir / "preprocessor_config.json").is_file() else base
    AutoFeatureExtractor.from_pretrained(source).save_pretrained(stage)


def _stage_model(run_dir: Path, stage: Path, include_onnx: bool) -> dict[str, str]:
    """Copy (adapter-only runs: merge) everything that is published, with the installed hf_ser's modelling
    code in place of the run's `.py` copies; return skipped files + reasons."""
    skipped: dict[str, str] = {}
    adapter_dir = None
    if (run_dir / "adapter_config.json").is_file():
        adapter_dir = run_dir
        _merge_adapter(run_dir, stage)
    else:
        adapter_dir = next(
            (run_dir / d for d in ADAPTER_DIRS if (run_dir / d / "adapter_config.json").is_file()), None
        )
    for path in sorted(run_dir.iterdir()):
        name = path.name
        if path.is_dir():
            if name == "onnx" and include_onnx:
                shutil.copytree(path, stage / "onnx")
            elif name == REPORT_DIR:
                shutil.copytree(path, stage / REPORT_DIR, ignore=shutil.ignore_patterns("*.html"))
            elif name not in (*ADAPTER_DIRS, "onnx") and path.resolve() != stage.resolve():
                skipped[name + "/"] = "directory not published (checkpoints, logs, staging)"
            continue
        if name.endswith(PICKLE_SUFFIXES):
            skipped[name] = "pickle-based format, never uploaded (safetensors only)"
        elif name.endswith(".py"):
            continue  # replaced below by the current modelling code (or, if not part of it, skipped)
        elif adapter_dir == run_dir and (name in ADAPTER_FILES or name == "config.json"):
            continue  # the merged model's files come from _merge_adapter; the adapter goes to adapter/
        elif name in SKIPPED_FILES or not name.endswith(MODEL_FILE_SUFFIXES):
            skipped[name] = "not part of a published model"
        else:
            shutil.copy2(path, stage / name)
    if not any(stage.glob("*.safetensors")):
        raise ValueError(f"{run_dir} has no safetensors weights; save the model with save_pretrained().")
    code = write_modelling_code(stage)
    for path in sorted(run_dir.glob("*.py")):
        if path.name not in code:
            skipped[path.name] = "not part of the current hf_ser modelling code of this model"
    if adapter_dir is not None:
        (stage / "adapter").mkdir()
        for name in ADAPTER_FILES:
            shutil.copy2(adapter_dir / name, stage / "adapter" / name)
    if include_onnx and not (stage / "onnx").is_dir():
        from .export import to_onnx

        to_onnx(str(stage), str(stage / "onnx"))
    if (stage / "onnx" / "config.json").is_file():  # a run's own export carries its config's code too
        write_modelling_code(stage / "onnx", include_model=False)
    return skipped


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------
def _probe_audio() -> np.ndarray:
    """A deterministic 1 s test signal (two tones + a glide), identical in the checking subprocess."""
    t = np.arange(int(16000 * PROBE_SECONDS), dtype=np.float64) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * (500 + 300 * t) * t)).astype(
        np.float32
    )


_REMOTE_CODE_CHECK = f"""
import json, sys
sys.modules["hf_ser"] = None  # hf_ser must not be importable: the folder has to carry its own code
import numpy as np
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
t = np.arange(int(16000 * {PROBE_SECONDS!r}), dtype=np.float64) / 16000
audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * (500 + 300 * t) * t)).astype(np.float32)
model = AutoModelForAudioClassification.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
extractor = AutoFeatureExtractor.from_pretrained(sys.argv[1], trust_remote_code=True)
inputs = extractor(
    [audio], sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
)
with torch.no_grad():
    logits = model(**inputs).logits
print(json.dumps({{"module": type(model).__module__, "logits": logits[0].tolist()}}))
"""


def _run_model(folder: Path) -> tuple[np.ndarray, Any]:
    """Load `folder` with the Auto classes (hf_ser registered) and run the probe; return logits + config."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from .auto import register_auto_classes

    register_auto_classes()
    model = AutoModelForAudioClassification.from_pretrained(folder).eval()
    extractor = AutoFeatureExtractor.from_pretrained(folder)
    inputs = extractor(
        [_probe_audio()], sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    with torch.no_grad():
        logits = model(**inputs).logits
    return logits[0].float().numpy(), model.config


def check_model_folder(folder: PathLike) -> dict[str, str]:
    """Run the publishing checks (module docstring) on a staged folder; raise `ValueError` on failure."""
    folder = Path(folder)
    checks: dict[str, str] = {}
    pickles = [p for p in _listing(folder) if p.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise ValueError(f"{folder} contains pickle-based files {pickles}; publish safetensors only.")
    checks["no_pickles"] = "no .bin/.pt/.pkl files; weights are safetensors"
    validate_model_card((folder / "README.md").read_text(encoding="utf-8"))
    checks["model_card"] = "README.md metadata validates offline (ModelCardData, model-index schema)"

    logits, config = _run_model(folder)
    expected = getattr(config, "num_labels", None)
    if not np.isfinite(logits).all() or (expected is not None and logits.shape[-1] != expected):
        raise ValueError(
            f"{folder}: the model's output is not finite or has shape {logits.shape}, not ({expected},)."
        )
    checks["auto_classes"] = (
        f"AutoModelForAudioClassification + AutoFeatureExtractor load it; {logits.shape[-1]} outputs"
    )

    with tempfile.TemporaryDirectory() as modules_cache:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": modules_cache}
        process = subprocess.run(
            [sys.executable, "-c", _REMOTE_CODE_CHECK, str(folder.resolve())],
            capture_output=True,
            text=True,
            env=env,
            cwd=modules_cache,
            timeout=300,
        )
    if process.returncode != 0:
        raise ValueError(
            f"{folder} does not load with trust_remote_code=True without hf_ser:\n{process.stderr[-3000:]}"
        )
    remote = json.loads(process.stdout.strip().splitlines()[-1])
    if not np.allclose(np.asarray(remote["logits"]), logits, atol=ATOL):
        raise ValueError(
            f"trust_remote_code outputs {remote['logits']} differ from hf_ser's {logits.tolist()}."
        )
    checks["trust_remote_code"] = f"loads without hf_ser as {remote['module']}, same outputs (atol {ATOL})"

    if (folder / "onnx").is_dir():
        from .export import OnnxSERModel

        onnx_logits = (
            OnnxSERModel.from_pretrained(folder / "onnx").predict([_probe_audio()]).logits[0].numpy()
        )
        if not np.allclose(onnx_logits, logits, atol=ONNX_ATOL):
            raise ValueError(f"onnx/ outputs {onnx_logits.tolist()} differ from PyTorch's {logits.tolist()}.")
        checks["onnx"] = f"onnx/ runs in onnxruntime with PyTorch's outputs (atol {ONNX_ATOL})"
    return checks


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def publish(
    run_dir: PathLike,
    repo_id: str,
    *,
    private: bool = False,
    dry_run: bool = False,
    include_onnx: bool = True,
    token: Optional[str] = None,
    folder: Optional[PathLike] = None,
    commit_message: str = "Upload hf_ser model",
) -> PublishResult:
    """Publish the trained model in `run_dir` as the Hub model repo `repo_id`.

    Args:
        run_dir (`str` or `Path`): a run directory (see :func:`hf_ser.cards.card_data_from_run`): a model
            saved with `save_pretrained` (+ feature extractor; a LoRA adapter in `lora_adapter/` or
            `adapter/` is uploaded too, as `adapter/`), or a LoRA adapter directory whose base model is
            reachable (merged here; the adapter is uploaded as `adapter/`).
        repo_id (`str`): `"user/name"`.
        private (`bool`, defaults to `False`): create the repo private.
        dry_run (`bool`, defaults to `False`): stage and check only; nothing is uploaded.
        include_onnx (`bool`, defaults to `True`): ship `onnx/` (the run's export, else a fresh
            :func:`hf_ser.export.to_onnx`).
        token (`str`, *optional*): Hub token; defaults to huggingface_hub's (`HF_TOKEN`, saved login).
        folder (`str` or `Path`, *optional*): where to stage; defaults to `<run_dir>/hub_dry_run` for dry
            runs and a temporary folder otherwise.
        commit_message (`str`): message of the upload commit.

    Returns:
        :class:`PublishResult`.
    """
    _check_repo_id(repo_id)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} is not a directory.")
    if not any((run_dir / name).is_file() for name in ("config.json", "adapter_config.json")):
        found = ", ".join(sorted(p.name for p in run_dir.iterdir())) or "nothing"
        raise ValueError(
            f"{run_dir} holds no model: expected config.json + model.safetensors (save_pretrained) or a LoRA "
            f"adapter (adapter_config.json); found {found}."
        )
    with tempfile.TemporaryDirectory() as tmp:
        stage = _prepare_folder(folder, run_dir / DRY_RUN_DIR if dry_run else Path(tmp) / "stage")
        skipped = _stage_model(run_dir, stage, include_onnx)
        card_data = card_data_from_run(stage)  # the staged copies of config/card_data/metrics/summary/report
        card_data.model_id = repo_id
        card_data.has_onnx = (stage / "onnx").is_dir()
        if (stage / "adapter").is_dir() and card_data.lora is None:
            adapter = json.loads((stage / "adapter" / "adapter_config.json").read_text())
            targets = adapter.get("target_modules") or []
            card_data.lora = {
                "r": adapter.get("r"),
                "alpha": adapter.get("lora_alpha"),
                "target_modules": [targets] if isinstance(targets, str) else sorted(targets),
            }
        render_model_card(card_data).save(stage / "README.md")
        card_data.save(stage / "card_data.json")
        result = PublishResult(
            repo_id=repo_id,
            folder=stage,
            files=_listing(stage),
            skipped=skipped,
            checks=check_model_folder(stage),
            dry_run=dry_run,
        )
        if not dry_run:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(
                repo_id=repo_id, folder_path=stage, repo_type="model", commit_message=commit_message
            )
            result.url = getattr(commit, "commit_url", None) or str(commit)
    return result


def _default_space_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "spaces"


def _space_readme(readme: str, model: Optional[str]) -> str:
    """The Space README with `models: [model]` in its YAML header (links the Space to the model page)."""
    from huggingface_hub import SpaceCard

    card = SpaceCard(readme)
    if model is not None:
        card.data.models = [model]
    return str(card)


def check_space_folder(folder: PathLike) -> dict[str, str]:
    """Check a staged Space: header fields, files present, app compiles, and it builds its demo with the
    hf_ser copy inside the folder (in a subprocess, so the installed hf_ser cannot mask a missing file)."""
    from huggingface_hub import SpaceCard

    folder = Path(folder)
    data = SpaceCard.load(folder / "README.md").data
    problems = [
        f"{key} is missing" for key in ("title", "sdk", "sdk_version", "app_file") if not data.get(key)
    ]
    if data.get("sdk") != "gradio":
        problems.append(f"sdk must be 'gradio', got {data.get('sdk')!r}")
    if data.get("app_file") and not (folder / data.app_file).is_file():
        problems.append(f"app_file {data.app_file!r} is not in the folder")
    if problems:
        raise ValueError(f"Invalid Space README header in {folder}: " + "; ".join(problems) + ".")
    checks = {"space_card": f"README header: sdk gradio {data.sdk_version}, app_file {data.app_file}"}
    app_file = folder / data.app_file
    compile(app_file.read_text(encoding="utf-8"), str(app_file), "exec")  # SyntaxError names the line
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import gradio, app, hf_ser; "
        "assert hf_ser.__file__.startswith(sys.argv[1]), hf_ser.__file__; "
        "assert isinstance(app.demo, gradio.Blocks), type(app.demo); print('ok')"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    env.pop(SPACE_MODEL_VARIABLE, None)
    process = subprocess.run(
        [sys.executable, "-c", script, str(folder.resolve())],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
    )
    if process.returncode != 0:
        raise ValueError(f"The staged Space in {folder} does not build its demo:\n{process.stderr[-3000:]}")
    checks["app_builds"] = "app.py builds its Gradio Blocks with the hf_ser copy shipped in the Space"
    return checks


def publish_space(
    repo_id: str,
    model: Optional[str] = None,
    *,
    private: bool = False,
    dry_run: bool = False,
    token: Optional[str] = None,
    folder: Optional[PathLike] = None,
    space_dir: Optional[PathLike] = None,
    examples_dir: Optional[PathLike] = None,
) -> PublishResult:
    """Publish the Gradio demo (`spaces/`) as the Hub Space `repo_id`.

    The Space gets `app.py`, `README.md` (header linked to `model`), `requirements.txt`, the example
    clips and a copy of the hf_ser package, so it runs exactly the hf_ser version you publish from.

    Args:
        repo_id (`str`): `"user/name"` of the Space.
        model (`str`, *optional*): Hub id of the model the Space serves (set as the Space variable
            `HF_SER_MODEL`); `None` serves hf_ser's built-in default model.
        private, dry_run, token: as in :func:`publish`.
        folder (`str` or `Path`, *optional*): where to stage; defaults to `<space_dir>/../hub_space_dry_run`
            for dry runs and a temporary folder otherwise.
        space_dir (`str` or `Path`, *optional*): the Space sources; defaults to the repository's `spaces/`.
        examples_dir (`str` or `Path`, *optional*): example clips; defaults to the repository's `examples/`.
    """
    _check_repo_id(repo_id)
    if model is not None and (Path(model).exists() or not _REPO_ID.match(model)):
        raise ValueError(
            f"model={model!r} must be a Hub model id ('user/name'): a Space cannot read local paths. "
            "Publish the model first with hf_ser.hub.publish(run_dir, repo_id)."
        )
    space_dir = Path(space_dir) if space_dir is not None else _default_space_dir()
    missing = [name for name in SPACE_FILES if not (space_dir / name).is_file()]
    if missing:
        raise ValueError(f"{space_dir} is not an hf_ser Space directory: missing {', '.join(missing)}.")
    examples_dir = Path(examples_dir) if examples_dir is not None else space_dir.parent / "examples"
    package_dir = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        default = space_dir.parent / "hub_space_dry_run" if dry_run else Path(tmp) / "stage"
        stage = _prepare_folder(folder, default)
        shutil.copy2(space_dir / "app.py", stage / "app.py")
        shutil.copy2(space_dir / "requirements.txt", stage / "requirements.txt")
        readme = _space_readme((space_dir / "README.md").read_text(encoding="utf-8"), model)
        (stage / "README.md").write_text(readme, encoding="utf-8")
        if examples_dir.is_dir():
            shutil.copytree(
                examples_dir, stage / "examples", ignore=shutil.ignore_patterns("*.py", "__pycache__")
            )
        shutil.copytree(package_dir, stage / "hf_ser", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        variables = {SPACE_MODEL_VARIABLE: model} if model is not None else {}
        result = PublishResult(
            repo_id=repo_id,
            folder=stage,
            files=_listing(stage),
            dry_run=dry_run,
            checks=check_space_folder(stage),
            space_variables=variables,
        )
        if not dry_run:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="space", space_sdk="gradio")
            for key, value in variables.items():
                api.add_space_variable(repo_id, key, value, description="Model served by the hf_ser demo")
            commit = api.upload_folder(
                repo_id=repo_id,
                folder_path=stage,
                repo_type="space",
                commit_message="Upload hf_ser demo Space",
            )
            result.url = getattr(commit, "commit_url", None) or str(commit)
    return result


# --------------------------------------------------------------------------------------------------
# Command line (`hf-ser publish`, `hf-ser publish-space`)
# --------------------------------------------------------------------------------------------------
def add_publish_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `hf-ser publish RUN_DIR REPO_ID` (mirrors :func:`publish`)."""
    parser.add_argument("run_dir", help="run directory (save_pretrained model or LoRA adapter)")
    parser.add_argument("repo_id", help="Hub model repo, user/name")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true", help="stage and check only (nothing is uploaded)")
    parser.add_argument("--no-onnx", dest="include_onnx", action="store_false", help="do not ship onnx/")
    parser.add_argument("--folder", default=None, help="staging folder (dry runs: RUN_DIR/hub_dry_run)")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    return parser


def add_publish_space_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `hf-ser publish-space REPO_ID` (mirrors :func:`publish_space`)."""
    parser.add_argument("repo_id", help="Hub Space repo, user/name")
    parser.add_argument("--model", default=None, help="Hub model id to serve (default: built-in)")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    parser.add_argument("--dry-run", action="store_true", help="stage and check only (nothing is uploaded)")
    parser.add_argument("--folder", default=None, help="staging folder")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    return parser


def _print_result(result: PublishResult) -> None:
    action = "Dry run: staged" if result.dry_run else "Uploaded"
    where = f" in {result.folder}" if result.dry_run else ""
    print(f"{action} {len(result.files)} files for {result.repo_id}{where}")
    for name, what in result.checks.items():
        print(f"  ok {name}: {what}")
    for name, why in result.skipped.items():
        print(f"  skipped {name}: {why}")
    for key, value in result.space_variables.items():
        print(f"  Space variable {key}={value}")
    if result.url:
        print(result.url)


def run_publish(args: argparse.Namespace) -> int:
    """`hf-ser publish`: :func:`publish` with the parsed flags; prints what was staged and checked."""
    _print_result(publish(args.run_dir, args.repo_id, private=args.private, dry_run=args.dry_run,
                          include_onnx=args.include_onnx, token=args.token, folder=args.folder))  # fmt: skip
    return 0


def run_publish_space(args: argparse.Namespace) -> int:
    """`hf-ser publish-space`: :func:`publish_space` with the parsed flags."""
    _print_result(publish_space(args.repo_id, args.model, private=args.private, dry_run=args.dry_run,
                                token=args.token, folder=args.folder))  # fmt: skip
    return 0

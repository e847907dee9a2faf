"""Publish an hf_ser model on the Hugging Face Hub (:func:`publish`).

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
5. it holds no absolute local paths (``data_dir``, ``output_dir``, local backbones: user names and the
   machine's layout), which staging redacts to ``<local>`` (:mod:`hf_ser.hub.redact`);
6. its ONNX export (when shipped) gives PyTorch's outputs in onnxruntime.

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

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..cards import card_data_from_run, render_model_card, validate_model_card
from .redact import check_no_local_paths, redact_local_paths
from .remote_code import write_modelling_code
from .staging import (
    PathLike,
    PublishResult,
    check_repo_id,
    listing,
    run_offline_check,
    staging_folder,
    upload,
)

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
PROBE_SECONDS = 1.0
ATOL = 1e-4
ONNX_ATOL = 1e-3



def _merge_adapter(run_dir: Path, stage: Path) -> None:
    """Adapter-only run: load its base model, apply the adapter, merge, and save the merged model."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from ..auto import register_auto_classes
    from ..training.lora import load_lora

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


def _stage_weights_source(run_dir: Path, stage: Path) -> Optional[Path]:
    """Merge an adapter-only run into `stage`; return the folder holding the LoRA adapter, if any."""
    if (run_dir / "adapter_config.json").is_file():
        _merge_adapter(run_dir, stage)
        return run_dir
    return next((run_dir / d for d in ADAPTER_DIRS if (run_dir / d / "adapter_config.json").is_file()), None)


def _stage_directory(path: Path, stage: Path, include_onnx: bool) -> Optional[str]:
    """Copy a published sub-folder of the run (its ONNX export, the report); else say why it is skipped."""
    name = path.name
    if name == "onnx" and include_onnx:
        shutil.copytree(path, stage / "onnx")
    elif name == REPORT_DIR:
        shutil.copytree(path, stage / REPORT_DIR, ignore=shutil.ignore_patterns("*.html"))
    elif name not in (*ADAPTER_DIRS, "onnx") and path.resolve() != stage.resolve():
        return "directory not published (checkpoints, logs, staging)"
    return None


def _stage_file(path: Path, stage: Path, adapter_only: bool) -> Optional[str]:
    """Copy a published top-level file of the run; else say why it is skipped (`None` when handled elsewhere).

    `.py` files are replaced by the current modelling code; an adapter-only run's own config and
    adapter files give way to the merged model and the `adapter/` folder.
    """
    name = path.name
    if name.endswith(PICKLE_SUFFIXES):
        return "pickle-based format, never uploaded (safetensors only)"
    if name.endswith(".py") or (adapter_only and (name in ADAPTER_FILES or name == "config.json")):
        return None
    if name in SKIPPED_FILES or not name.endswith(MODEL_FILE_SUFFIXES):
        return "not part of a published model"
    shutil.copy2(path, stage / name)
    return None


def _stage_run_files(run_dir: Path, stage: Path, include_onnx: bool, adapter_only: bool) -> dict[str, str]:
    """Copy the run's published files and folders into `stage`; return skipped names + reasons."""
    skipped: dict[str, str] = {}
    for path in sorted(run_dir.iterdir()):
        if path.is_dir():
            key, reason = path.name + "/", _stage_directory(path, stage, include_onnx)
        else:
            key, reason = path.name, _stage_file(path, stage, adapter_only)
        if reason is not None:
            skipped[key] = reason
    return skipped


def _stage_modelling_code(run_dir: Path, stage: Path) -> dict[str, str]:
    """Write the installed hf_ser's modelling code; return the run's `.py` files it does not replace."""
    code = write_modelling_code(stage)
    return {
        path.name: "not part of the current hf_ser modelling code of this model"
        for path in sorted(run_dir.glob("*.py"))
        if path.name not in code
    }


def _stage_adapter(adapter_dir: Path, stage: Path) -> None:
    """Ship the LoRA adapter's own weights and config in `adapter/` next to the merged model."""
    (stage / "adapter").mkdir()
    for name in ADAPTER_FILES:
        shutil.copy2(adapter_dir / name, stage / "adapter" / name)


def _stage_onnx(stage: Path, include_onnx: bool) -> None:
    """Export to ONNX when asked and the run has no export; give any export the code its config names."""
    if include_onnx and not (stage / "onnx").is_dir():
        from ..export import to_onnx

        to_onnx(str(stage), str(stage / "onnx"))
    if (stage / "onnx" / "config.json").is_file():  # a run's own export carries its config's code too
        write_modelling_code(stage / "onnx", include_model=False)


def _stage_model(run_dir: Path, stage: Path, include_onnx: bool) -> dict[str, str]:
    """Copy (adapter-only runs: merge) everything that is published, with the installed hf_ser's modelling
    code in place of the run's `.py` copies; return skipped files + reasons."""
    adapter_dir = _stage_weights_source(run_dir, stage)
    skipped = _stage_run_files(run_dir, stage, include_onnx, adapter_only=adapter_dir == run_dir)
    if not any(stage.glob("*.safetensors")):
        raise ValueError(f"{run_dir} has no safetensors weights; save the model with save_pretrained().")
    skipped.update(_stage_modelling_code(run_dir, stage))
    if adapter_dir is not None:
        _stage_adapter(adapter_dir, stage)
    _stage_onnx(stage, include_onnx)
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

    from ..auto import register_auto_classes

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
    pickles = [p for p in listing(folder) if p.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise ValueError(f"{folder} contains pickle-based files {pickles}; publish safetensors only.")
    checks["no_pickles"] = "no .bin/.pt/.pkl files; weights are safetensors"
    checks["no_local_paths"] = check_no_local_paths(folder)
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
        stdout = run_offline_check(
            _REMOTE_CODE_CHECK, folder, cwd=Path(modules_cache), env={"HF_MODULES_CACHE": modules_cache},
            failure=f"{folder} does not load with trust_remote_code=True without hf_ser",
        )  # fmt: skip
    remote = json.loads(stdout.strip().splitlines()[-1])
    if not np.allclose(np.asarray(remote["logits"]), logits, atol=ATOL):
        raise ValueError(
            f"trust_remote_code outputs {remote['logits']} differ from hf_ser's {logits.tolist()}."
        )
    checks["trust_remote_code"] = f"loads without hf_ser as {remote['module']}, same outputs (atol {ATOL})"

    if (folder / "onnx").is_dir():
        from ..export import OnnxSERModel

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

def _write_card(stage: Path, repo_id: str) -> None:
    """Render the model card (and `card_data.json`) from the staged copies of the run's files."""
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
    check_repo_id(repo_id)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} is not a directory.")
    if not any((run_dir / name).is_file() for name in ("config.json", "adapter_config.json")):
        found = ", ".join(sorted(p.name for p in run_dir.iterdir())) or "nothing"
        raise ValueError(
            f"{run_dir} holds no model: expected config.json + model.safetensors (save_pretrained) or a LoRA "
            f"adapter (adapter_config.json); found {found}."
        )
    with staging_folder(folder, run_dir / DRY_RUN_DIR, dry_run) as stage:
        skipped = _stage_model(run_dir, stage, include_onnx)
        redact_local_paths(stage)  # before the card is rendered from the staged files
        _write_card(stage, repo_id)
        result = PublishResult(
            repo_id=repo_id, folder=stage, files=listing(stage), skipped=skipped,
            checks=check_model_folder(stage), dry_run=dry_run,
        )  # fmt: skip
        if not dry_run:
            upload(result, repo_type="model", token=token, private=private, commit_message=commit_message)
    return result


"""Publish the Gradio demo (`spaces/`) as a Hub Space (:func:`publish_space`): stage the app, its README
(linked to the model it serves), the example clips and a copy of hf_ser; check that it builds; upload."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from .staging import (
    REPO_ID_PATTERN,
    PathLike,
    PublishResult,
    check_repo_id,
    listing,
    run_offline_check,
    staging_folder,
    upload,
)

SPACE_FILES = ("app.py", "README.md", "requirements.txt")
SPACE_MODEL_VARIABLE = "HF_SER_MODEL"


def _default_space_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "spaces"


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
    run_offline_check(
        script, folder, cwd=folder, env={"GRADIO_ANALYTICS_ENABLED": "False"}, unset=(SPACE_MODEL_VARIABLE,),
        failure=f"The staged Space in {folder} does not build its demo",
    )  # fmt: skip
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
    check_repo_id(repo_id)
    if model is not None and (Path(model).exists() or not REPO_ID_PATTERN.match(model)):
        raise ValueError(
            f"model={model!r} must be a Hub model id ('user/name'): a Space cannot read local paths. "
            "Publish the model first with hf_ser.hub.publish(run_dir, repo_id)."
        )
    space_dir = Path(space_dir) if space_dir is not None else _default_space_dir()
    missing = [name for name in SPACE_FILES if not (space_dir / name).is_file()]
    if missing:
        raise ValueError(f"{space_dir} is not an hf_ser Space directory: missing {', '.join(missing)}.")
    examples_dir = Path(examples_dir) if examples_dir is not None else space_dir.parent / "examples"
    package_dir = Path(__file__).resolve().parents[1]
    with staging_folder(folder, space_dir.parent / "hub_space_dry_run", dry_run) as stage:
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
            files=listing(stage),
            dry_run=dry_run,
            checks=check_space_folder(stage),
            space_variables=variables,
        )
        if not dry_run:
            upload(result, repo_type="space", token=token, private=private,
                   commit_message="Upload hf_ser demo Space", space_sdk="gradio")  # fmt: skip
    return result

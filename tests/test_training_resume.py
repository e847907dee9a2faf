"""Exact ``--resume``: a run killed after a checkpoint and resumed equals the uninterrupted run bit for bit,
and incomplete checkpoints (a kill while one was written) are skipped.

Runs use the shipped ``recipes/configs/reslstm_sa_h64.yaml`` (speed perturbation on, plus the
``light`` augmentation preset so audiomentations' transforms are covered too) on 16 EmoDB clips, batch 4
(3 steps per epoch), a checkpoint every 2 steps (mid-epoch and across epochs).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from tests.test_recipes import config, flags, run_recipe

STEPS = 8
RESUME_FROM = (2, 4)
"""Checkpoints the interrupted copies resume from: mid-epoch 0 (step 2) and mid-epoch 1 (step 4)."""


def _argv(output_dir: Path, *extra: str) -> list[str]:
    return [
        "--config", config("reslstm_sa_h64"),
        *flags(output_dir=output_dir, max_steps=STEPS, save_steps=2, augment="light", seed=3,
               max_eval_seconds=None, test_time_speeds=None, save_total_limit=10),
        *extra,
    ]  # fmt: skip


def interrupted_copy(reference: Path, target: Path, keep_step: int) -> Path:
    """``reference`` as a run killed after ``checkpoint-<keep_step>``: later checkpoints and every final
    artifact removed."""
    shutil.copytree(reference, target)
    for path in target.iterdir():
        step = int(path.name.split("-")[1]) if path.name.startswith("checkpoint-") else None
        if step is None or step > keep_step:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run (its checkpoints kept)."""
    out = tmp_path_factory.mktemp("resume") / "reference"
    run_recipe("finetune", _argv(out))
    return out


def _same_weights(first: Path, second: Path) -> None:
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert sorted(a) == sorted(b)
    for name in a:
        assert (a[name] == b[name]).all() and a[name].dtype == b[name].dtype, name


@pytest.mark.parametrize("keep_step", RESUME_FROM)
def test_resumed_run_is_bit_identical(reference, tmp_path, keep_step, capsys):
    killed = interrupted_copy(reference, tmp_path / "killed", keep_step)
    capsys.readouterr()
    run_recipe("finetune", _argv(killed, "--resume"))
    assert f"continuing from {killed / f'checkpoint-{keep_step}'}" in capsys.readouterr().out
    _same_weights(reference, killed)
    _same_weights(reference / f"checkpoint-{STEPS}", killed / f"checkpoint-{STEPS}")
    assert _scores(killed) == _scores(reference)


def _scores(run: Path) -> dict[str, float]:
    """The test figures of a run, without timings."""
    test = json.loads((run / "metrics.json").read_text())["test"]
    return {key: value for key, value in test.items() if "runtime" not in key and "per_second" not in key}


@pytest.mark.parametrize("damage", ["empty", "no_trainer_state", "truncated_weights"])
def test_incomplete_checkpoint_is_skipped_with_a_warning(reference, tmp_path, damage, capsys):
    killed = interrupted_copy(reference, tmp_path / "killed", 4)
    partial = killed / "checkpoint-4"
    if damage == "empty":
        shutil.rmtree(partial)
        partial.mkdir()
    elif damage == "no_trainer_state":
        (partial / "trainer_state.json").unlink()
    else:
        weights = partial / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    capsys.readouterr()
    with pytest.warns(UserWarning, match="checkpoint-4 is incomplete"):
        run_recipe("finetune", _argv(killed, "--resume"))
    assert f"continuing from {killed / 'checkpoint-2'}" in capsys.readouterr().out
    _same_weights(reference, killed)

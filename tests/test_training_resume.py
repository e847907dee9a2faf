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


@pytest.mark.slow
def test_sigkill_during_training_then_resume_is_bit_identical(tmp_path, capsys):
    """A real ``kill -9`` of ``recipes/finetune.py`` (possibly while a checkpoint is being written), then
    ``--resume``: the final weights equal those of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from tests.test_recipes import REPO

    steps = ["--max_steps", "36", "--save_steps", "3", "--save_total_limit", "3"]
    killed = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "recipes" / "finetune.py"), *_argv(killed, *steps)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip

    def kill_after_a_few_checkpoints() -> None:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if (killed / "checkpoint-6").is_dir():
                os.kill(process.pid, signal.SIGKILL)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=kill_after_a_few_checkpoints)
    watcher.start()  # the uninterrupted reference runs in this process meanwhile
    run_recipe("finetune", _argv(tmp_path / "reference", *steps))
    watcher.join()
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert not (killed / "model.safetensors").exists(), "the run finished before it was killed"
    capsys.readouterr()
    run_recipe("finetune", _argv(killed, *steps, "--resume"))
    assert "--resume: continuing from" in capsys.readouterr().out
    _same_weights(tmp_path / "reference", killed)

"""Quiet by default (hf_ser.progress): no per-load progress bars from our own calls; settings restored."""

from __future__ import annotations

import pytest
from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from transformers.utils import logging

from hf_ser import progress
from hf_ser.inference.pipeline import pipeline


@pytest.fixture(autouse=True)
def bars_on():
    """Start with both kinds of progress bars on (``hf-ser`` turns transformers' off in-process)."""
    transformers_on, hub_on = logging.is_progress_bar_enabled(), not are_progress_bars_disabled()
    logging.enable_progress_bar()
    enable_progress_bars()
    yield
    if not transformers_on:
        logging.disable_progress_bar()
    if not hub_on:
        disable_progress_bars()


def test_quiet_progress_hides_and_restores():
    assert logging.is_progress_bar_enabled()
    with progress.quiet_progress():
        assert not logging.is_progress_bar_enabled()
        assert are_progress_bars_disabled()
    assert logging.is_progress_bar_enabled()
    assert not are_progress_bars_disabled()


def test_verbose_keeps_bars():
    progress.set_verbose(True)
    try:
        with progress.quiet_progress():
            assert logging.is_progress_bar_enabled()
    finally:
        progress.set_verbose(False)


def test_loading_a_checkpoint_prints_no_progress_bar(tiny_checkpoint_dir, capfd):
    pipeline(str(tiny_checkpoint_dir))
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert logging.is_progress_bar_enabled()

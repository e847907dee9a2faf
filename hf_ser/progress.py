"""Quiet by default: transformers' and huggingface_hub's progress bars hidden around hf_ser's own calls.

Every ``from_pretrained`` / ``save_pretrained`` of a tiny model otherwise prints a "Loading weights" or
"Writing model shards" bar that says nothing useful. :func:`quiet_progress` hides them for the calls it
wraps and restores the caller's setting afterwards, so a user who wants bars elsewhere keeps them
(``hf-ser --verbose`` shows them again).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_verbose: list[bool] = [False]


def set_verbose(verbose: bool) -> None:
    """``True`` (``hf-ser --verbose``): leave progress bars on inside :func:`quiet_progress` too."""
    _verbose[0] = verbose


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Hide transformers' and huggingface_hub's progress bars inside the block, then restore them."""
    if _verbose[0]:
        yield
        return
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging

    transformers_on = logging.is_progress_bar_enabled()
    hub_on = not are_progress_bars_disabled()
    logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        if transformers_on:
            logging.enable_progress_bar()
        if hub_on:
            enable_progress_bars()


def quietly(function: F) -> F:
    """Decorator: run ``function`` inside :func:`quiet_progress`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet_progress():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

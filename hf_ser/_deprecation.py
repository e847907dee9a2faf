"""Old import paths that still work for one release, with a `FutureWarning` naming the new one."""

from __future__ import annotations

import warnings


def warn_moved(old: str, new: str) -> None:
    """Warn (once per import of `old`) that `old` moved to `new` and will be removed in the next release."""
    warnings.warn(
        f"`{old}` moved to `{new}`; the old import path will be removed in the next release of hf_ser.",
        FutureWarning,
        stacklevel=3,
    )

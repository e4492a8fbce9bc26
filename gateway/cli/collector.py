"""The cyclic garbage collector across a command's start-up (see gateway/cli/entry.py).

Apart from the entry point so that the command marks (gateway/cli/acting.py) can switch
it back on without importing the entry point, which imports the command group.
"""

from __future__ import annotations

import gc


def pause_collection() -> None:
    """Pause the collector for the start-up (the `cme` script's first step)."""
    gc.disable()


def resume_collection() -> None:
    """Switch the collector back on if the entry point paused it (once per process): the
    start-up's objects are frozen out of its sight first, so it never walks them again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()

"""Loaded by the `cme run` that the IMAP crash test starts (its PYTHONPATH names this folder):
gives the IMAP poller a hook between storing a batch and moving it out of the inbox, so the
test can freeze it there on demand and SIGKILL it in the window the design must survive.

The test arms the hook by creating `arm` in the folder named by IMAPCRASH_DIR; the next
stored batch renames it to `held` and waits, never moving that batch, until the process is
killed."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_DIR = os.environ.get("IMAPCRASH_DIR")

if _DIR:
    from gateway.intake import imap

    _folder = Path(_DIR)
    _init = imap.ImapPoller.__init__

    def _hold_when_armed(_uids: list[int]) -> None:
        try:
            os.replace(_folder / "arm", _folder / "held")
        except FileNotFoundError:
            return  # not armed: carry on and move the batch
        threading.Event().wait(600)  # the test kills the process long before this

    def _init_with_hook(self: imap.ImapPoller, *args: object, **kwargs: object) -> None:
        _init(self, *args, **kwargs)  # type: ignore[arg-type]
        self.after_store = _hold_when_armed

    imap.ImapPoller.__init__ = _init_with_hook  # type: ignore[method-assign]

"""A reader for parser-process tests: reads as the real one does, but dies outright (as a
fault in C code would) on the marker message. Module level, so a spawned process finds it."""

from __future__ import annotations

import os

from gateway.intake.parsing import Reading, read_in_child

CRASH = b"crash the parser process\r\n"


def crash_on_marker(data: bytes) -> Reading:
    if data == CRASH:
        os._exit(70)
    return read_in_child(data)

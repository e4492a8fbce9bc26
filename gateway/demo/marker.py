"""The mark on a data home loaded with the demo: `$CME_HOME/DEMO`, read by every console page.

A file rather than a row: the console checks it on each page (a stat, no query, no
migration), and it sits beside the database it describes. Light on imports, since the
web app imports it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

MARKER = "DEMO"


@dataclass(frozen=True)
class DemoMark:
    """What the marker says: how many times the demo was loaded, when, and its users."""

    loads: int
    last_loaded_at: str
    usernames: tuple[str, ...]


def marker_path(home: Path) -> Path:
    return home / MARKER


def is_demo_home(home: Path) -> bool:
    return marker_path(home).is_file()


def read_mark(home: Path) -> DemoMark | None:
    """The marker's contents; None for a home never loaded with the demo."""
    try:
        data: dict[str, Any] = json.loads(marker_path(home).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # Present but unreadable: still a demo home (the banner must not disappear).
        return DemoMark(1, "", ())
    return DemoMark(
        int(data.get("loads", 1)),
        str(data.get("last_loaded_at", "")),
        tuple(str(u) for u in data.get("usernames", ())),
    )


def write_mark(home: Path, *, loads: int, at: datetime, usernames: tuple[str, ...]) -> None:
    """Mark the home (replacing an earlier mark whole, never half-written)."""
    body = {
        "note": "This data home holds the demo loaded by `cme demo`: every name is invented.",
        "loads": loads,
        "last_loaded_at": at.isoformat(timespec="seconds"),
        "usernames": list(usernames),
    }
    path = marker_path(home)
    tmp = path.with_name(MARKER + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)

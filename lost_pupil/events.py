"""Events other parts subscribe to (a pupil claimed); handlers run in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PupilClaimed:
    """A lost pupil is on roll again: every LA looking for this child should be told.

    Carries the identity the subscribers match on (their own cases and monitoring
    lists), so a subscriber never needs to read the lost-pupil tables.
    """

    pupil_id: int
    upn: str | None
    former_upns: tuple[str, ...]
    surname: str | None
    forename: str | None
    dob: date | None
    sex: str | None
    postcode: str | None
    source_laestab: str
    school_laestab: str
    on_roll_from: date
    claimed_by: str


@dataclass(frozen=True)
class PupilsStored:
    """A new CTF file's pupils are in the store: whoever matches against it may look again."""

    file_id: int
    pupils: int


E = TypeVar("E")
Handler = Callable[[Session, Any], None]
_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> Callable[[], None]:
    """Call handler(session, event) for each event of that type; returns an unsubscribe."""
    _handlers.setdefault(event_type, []).append(handler)

    def unsubscribe() -> None:
        if handler in _handlers.get(event_type, []):
            _handlers[event_type].remove(handler)

    return unsubscribe


def publish(session: Session, event: object) -> int:
    """Run the subscribers in the caller's transaction: their writes (an outbox letter, a
    task) commit or roll back with the change that caused them. Returns how many ran.
    An exception in a handler propagates, so the change is not committed without them."""
    handlers = list(_handlers.get(type(event), []))
    for handler in handlers:
        handler(session, event)
    return len(handlers)

"""The exchange quarantine for an officer: each refused message with the real reason (the
sender only ever got the one generic refusal), and its stored first bytes as inert text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.queries import NotFound
from gateway.models.exchange import ExchangePartner, QuarantinedMessage

PAGE_SIZE = 50
_HEX_ROW = 16
_TEXT_ROW = 32


@dataclass(frozen=True)
class Refused:
    id: int
    at: datetime
    channel: str
    reason: str
    peer: str | None
    size: int
    sha256: str
    signer_la: str | None
    signer_name: str | None
    kept_whole: bool
    raw_ref: str | None

    @property
    def signer(self) -> str:
        if self.signer_la is None:
            return "Not known: no pinned partner's signature on it verified"
        return f"{self.signer_name or 'LA ' + self.signer_la} (LA {self.signer_la})"


@dataclass(frozen=True)
class RefusedDetail:
    refused: Refused
    prefix_size: int
    #: The stored first bytes as offset / hex / printable ASCII lines, and as escaped text
    #: (a line per 32 bytes, so a page never grows sideways).
    hex_lines: tuple[str, ...]
    escaped_lines: tuple[str, ...]

    @property
    def escaped(self) -> str:
        return "".join(self.escaped_lines)


def _refused(row: QuarantinedMessage, names: dict[str, str]) -> Refused:
    return Refused(
        row.id, row.at, row.channel, row.reason, row.peer, row.size, row.sha256,
        row.signer_la, names.get(row.signer_la or ""), row.kept_whole, row.raw_ref,
    )  # fmt: skip


def _names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(ExchangePartner.la_code, ExchangePartner.name)).all())


def count_refused(session: Session) -> int:
    return int(session.execute(select(func.count(QuarantinedMessage.id))).scalar_one())


def list_refused(session: Session, actor: str, *, page: int = 1) -> tuple[list[Refused], int]:
    """Newest first, a page at a time, with the total; the view is audited."""
    names = _names(session)
    rows = session.execute(
        select(QuarantinedMessage)
        .order_by(QuarantinedMessage.at.desc(), QuarantinedMessage.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).scalars()
    found = [_refused(r, names) for r in rows]
    audit.record(
        session, actor=actor, action="exchange_quarantine.list", entity="exchange_quarantine",
        entity_id=None, detail={"page": page, "ids": [r.id for r in found]},
    )  # fmt: skip
    return found, count_refused(session)


def hex_dump(data: bytes) -> tuple[str, ...]:
    """Offset, hex and printable ASCII (anything else a dot), 16 bytes a line."""
    lines = []
    for start in range(0, len(data), _HEX_ROW):
        chunk = data[start : start + _HEX_ROW]
        hexed = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:08x}  {hexed:<{_HEX_ROW * 3 - 1}}  {text}")
    return tuple(lines)


def escaped_text(data: bytes) -> str:
    """The bytes as text with every control or non-ASCII byte written as an escape (\\x00),
    so nothing in them can act as markup, a terminal code or a line of its own."""
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def show_refused(session: Session, refused_id: int, actor: str) -> RefusedDetail:
    """One refused message; audited before anything is shown."""
    row = session.get(QuarantinedMessage, refused_id)
    if row is None:
        raise NotFound(f"there is no refused exchange message {refused_id}")
    audit.record(
        session, actor=actor, action="exchange_quarantine.view", entity="exchange_quarantine",
        entity_id=refused_id, detail={"sha256": row.sha256},
    )  # fmt: skip
    prefix = bytes(row.prefix or b"")
    lines = tuple(escaped_text(prefix[i : i + _TEXT_ROW]) for i in range(0, len(prefix), _TEXT_ROW))
    return RefusedDetail(_refused(row, _names(session)), len(prefix), hex_dump(prefix), lines)

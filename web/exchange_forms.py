"""The exchange console's forms: what each box shows, what a post means, and its errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.exchange.directory import PartnerLine
from parsers.exchange import ReplyStatus
from web.form_errors import FormErrors

DATE_PARTS = ("day", "month", "year")
NOTE_MAX = 1000
REASON_MAX = 500
TEXT_MAX = 200
_LAESTAB = re.compile(r"^\d{7}$")
_LA = re.compile(r"^\d{3}$")

PARTNER = "partner"
NOTE = "note"
REASON = "reason"
STATUS = "status"


def _boxes(form: Mapping[str, str], names: list[str]) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip() for k in names}


def date_boxes(prefix: str) -> list[str]:
    return [f"{prefix}-{p}" for p in DATE_PARTS]


def read_date(
    boxes: Mapping[str, str], prefix: str, errors: FormErrors, what: str, *, today: date
) -> date | None:
    """A GOV.UK date input (prefix-day, -month, -year): the date, or an error on its day box."""
    parts = [boxes.get(f"{prefix}-{p}", "") for p in DATE_PARTS]
    if not any(parts):
        errors.add(f"{prefix}-day", f"Enter the {what}")
        return None
    try:
        day, month, year = (int(p) for p in parts)
        value = date(year, month, day)
    except ValueError:
        errors.add(f"{prefix}-day", f"The {what} must be a real date, like 6 1 2026")
        return None
    if value > today:
        errors.add(f"{prefix}-day", f"The {what} must be today or in the past")
        return None
    return value


def date_values(prefix: str, value: date | None) -> dict[str, str]:
    if value is None:
        return {f"{prefix}-{p}": "" for p in DATE_PARTS}
    return {f"{prefix}-day": str(value.day), f"{prefix}-month": str(value.month),
            f"{prefix}-year": str(value.year)}  # fmt: skip


def _text(
    boxes: Mapping[str, str], name: str, errors: FormErrors, what: str, limit: int = TEXT_MAX
) -> str | None:
    value = boxes.get(name, "")
    if len(value) > limit:
        errors.add(name, f"{what} must be {limit} characters or fewer")
    return value or None


# -- compose an enquiry --------------------------------------------------------------------


@dataclass(frozen=True)
class EnquiryForm:
    partner: str = ""
    note: str = ""

    @classmethod
    def posted(cls, form: Mapping[str, str]) -> EnquiryForm:
        b = _boxes(form, [PARTNER, NOTE])
        return cls(b[PARTNER], b[NOTE])

    def validate(self, partners: list[PartnerLine]) -> FormErrors:
        errors = FormErrors()
        by_code = {line.partner.la_code: line for line in partners}
        line = by_code.get(self.partner)
        if not self.partner:
            errors.add(PARTNER, "Choose the authority to ask")
        elif line is None:
            errors.add(PARTNER, "Choose an authority from the partner directory")
        elif not line.can_receive:
            errors.add(
                PARTNER,
                f"{line.partner.name} cannot be asked: its certificate has expired. "
                "Ask them for their new one",
            )
        if len(self.note) > NOTE_MAX:
            errors.add(NOTE, f"The note must be {NOTE_MAX} characters or fewer")
        return errors


# -- answer a partner's enquiry ------------------------------------------------------------

ANSWER_BOXES = [
    STATUS, "laestab", "school_name", *date_boxes("start"), "address_line1", "address_line2",
    "town", "postcode", "moved_to_la", "destination", NOTE,
]  # fmt: skip


@dataclass(frozen=True)
class AnswerForm:
    """The six answers; the boxes a status needs (school and start date, address, where to)
    are revealed under its radio."""

    boxes: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.boxes.get(name, "")

    @classmethod
    def prefill(cls, proposed: Mapping[str, Any]) -> AnswerForm:
        address = proposed.get("address") or {}
        lines = list(address.get("lines") or [])
        start = proposed.get("start_date")
        try:
            start_date = date.fromisoformat(str(start)) if start else None
        except ValueError:
            start_date = None
        boxes = {
            STATUS: str(proposed.get("status") or ""),
            "laestab": str(proposed.get("laestab") or ""),
            "school_name": str(proposed.get("school_name") or ""),
            **date_values("start", start_date),
            "address_line1": lines[0] if lines else "",
            "address_line2": lines[1] if len(lines) > 2 else "",
            "town": lines[-1] if len(lines) > 1 else "",
            "postcode": str(address.get("postcode") or ""),
            "moved_to_la": str(proposed.get("moved_to_la") or ""),
            "destination": str(proposed.get("destination") or ""),
            NOTE: str(proposed.get("note") or ""),
        }
        return cls(boxes)

    @classmethod
    def posted(cls, form: Mapping[str, str]) -> AnswerForm:
        return cls(_boxes(form, ANSWER_BOXES))

    def answer(self, errors: FormErrors, *, today: date) -> dict[str, Any]:
        """The answer for working.approve (every key set, so nothing stale is sent)."""
        b = self.boxes
        try:
            status = ReplyStatus(b.get(STATUS, ""))
        except ValueError:
            errors.add(STATUS, "Choose the answer to send")
            return {}
        out: dict[str, Any] = {
            "status": status.value, "laestab": None, "school_name": None, "start_date": None,
            "address": None, "moved_to_la": None, "destination": None,
        }  # fmt: skip
        if status is ReplyStatus.ON_ROLL:
            laestab = b.get("laestab", "")
            if not laestab:
                errors.add("laestab", "Enter the school's LAESTAB")
            elif not _LAESTAB.match(laestab):
                errors.add("laestab", "The LAESTAB must be 7 digits: the LA code, then the school")
            out["laestab"] = laestab
            out["school_name"] = _text(b, "school_name", errors, "The school's name")
            start = read_date(b, "start", errors, "start date", today=today)
            out["start_date"] = start.isoformat() if start else None
        elif status is ReplyStatus.KNOWN_AT_ADDRESS:
            lines = [
                v
                for v in (
                    _text(b, "address_line1", errors, "Address line 1"),
                    _text(b, "address_line2", errors, "Address line 2"),
                    _text(b, "town", errors, "The town"),
                )
                if v
            ]
            postcode = _text(b, "postcode", errors, "The postcode", 10)
            if not lines and not postcode:
                errors.add("address_line1", "Enter the address the child is known at")
            out["address"] = {"lines": lines, "postcode": postcode}
        elif status is ReplyStatus.MOVED_ON:
            la = b.get("moved_to_la", "")
            if la and not _LA.match(la):
                errors.add("moved_to_la", "The authority's code must be 3 digits, like 806")
            out["moved_to_la"] = la or None
            out["destination"] = _text(b, "destination", errors, "Where they went")
        out["note"] = _text(b, NOTE, errors, "The note", NOTE_MAX)
        return out


# -- reasons and claims ----------------------------------------------------------------


def read_reason(form: Mapping[str, str], errors: FormErrors, missing: str) -> str:
    reason = str(form.get(REASON, "")).strip()
    if not reason:
        errors.add(REASON, missing)
    elif len(reason) > REASON_MAX:
        errors.add(REASON, f"The reason must be {REASON_MAX} characters or fewer")
    return reason


CLAIM_BOXES = ["laestab", *date_boxes("on-roll")]


@dataclass(frozen=True)
class ClaimForm:
    boxes: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.boxes.get(name, "")

    @classmethod
    def posted(cls, form: Mapping[str, str]) -> ClaimForm:
        return cls(_boxes(form, CLAIM_BOXES))

    def values(self, errors: FormErrors, *, today: date) -> tuple[str, date | None]:
        laestab = self.get("laestab")
        if not laestab:
            errors.add("laestab", "Enter the LAESTAB of the school the child is on roll at")
        elif not _LAESTAB.match(laestab):
            errors.add("laestab", "The LAESTAB must be 7 digits: the LA code, then the school")
        on_roll = read_date(self.boxes, "on-roll", errors, "date on roll", today=today)
        return laestab, on_roll

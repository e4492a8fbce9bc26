"""The triage page's three forms: what each box shows, what a post means, and its errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.cases.labels import DISMISS_REASONS, FIELDS
from gateway.models.referral import Referral
from web.form_errors import FormErrors

#: The boxes of "Open a new case" (the date of birth is three: dob-day, dob-month, dob-year).
OPEN_FIELDS = (
    "forename", "surname", "sex", "upn", "address_line1", "town", "postcode", "school",
    "reason", "urgency",
)  # fmt: skip
DOB_PARTS = ("day", "month", "year")
#: The id an error on a field links to (radios: the first radio; the date: its day box).
FIELD_IDS = {"dob": "dob-day"}
REQUIRED = {
    "forename": "Enter the child's first name",
    "surname": "Enter the child's last name",
}
DOB_ERROR = "Date of birth must be a real date, like 3 4 2015"
#: Where an error about something the form does not hold points: the form's heading.
OPEN_FORM = "open-case"


@dataclass(frozen=True)
class OpenForm:
    """The boxes of the open form, as shown (pre-filled or as the officer sent them)."""

    boxes: dict[str, str]

    def get(self, name: str) -> str:
        return self.boxes.get(name, "")

    @classmethod
    def prefill(cls, referral: Referral) -> OpenForm:
        d = referral.details or {}
        boxes = {k: str(d.get(k) or "") for k in OPEN_FIELDS}
        boxes["school"] = referral.school or ""
        boxes["reason"] = referral.reason or ""
        boxes["urgency"] = referral.urgency
        dob = d.get("dob")
        if dob:
            try:
                born = date.fromisoformat(str(dob))
            except ValueError:
                born = None
            if born is not None:
                boxes.update(
                    {
                        "dob-day": str(born.day),
                        "dob-month": str(born.month),
                        "dob-year": str(born.year),
                    }
                )
        return cls(boxes)

    @classmethod
    def posted(cls, form: Mapping[str, str]) -> OpenForm:
        names = [*OPEN_FIELDS, *(f"dob-{p}" for p in DOB_PARTS)]
        return cls({k: str(form.get(k, "")).strip() for k in names})

    def values(self, errors: FormErrors) -> dict[str, Any]:
        """The officer's values for triage.open_case ("" clears a value the referral had)."""
        out: dict[str, Any] = {k: self.get(k) for k in OPEN_FIELDS}
        parts = [self.get(f"dob-{p}") for p in DOB_PARTS]
        out["dob"] = ""
        if any(parts):
            try:
                day, month, year = (int(p) for p in parts)
                out["dob"] = date(year, month, day).isoformat()
            except ValueError:
                errors.add("dob-day", DOB_ERROR)
        if not out["urgency"]:
            errors.add("urgency", "Select how urgent the referral is")
        return out


def open_error(errors: FormErrors, message: str) -> None:
    """An InputError from opening the case, on the box it names ("surname is required")."""
    name = message.split(" ", 1)[0]
    field_id = FIELD_IDS.get(name, name)
    if name in REQUIRED and "required" in message:
        errors.add(field_id, REQUIRED[name])
    elif name == "dob":
        errors.add(field_id, "Date of birth must be the date of birth of a school-age child")
    elif name == "upn":
        why = message.split(": ", 1)[1] if ": " in message else "check it"
        errors.add(field_id, f"Enter a valid UPN ({why}), or leave it empty")
    elif name == "postcode":
        errors.add(field_id, "Enter a real postcode, like TS10 1AB, or leave it empty")
    elif name == "sex":
        errors.add(field_id, "Select the child's sex, or 'Not known'")
    elif name == "urgency":
        errors.add(field_id, "Select how urgent the referral is")
    else:
        # About something the referral holds that the form does not show.
        named = FIELDS.get(name)
        text = message[:1].upper() + message[1:]
        errors.add(OPEN_FORM, f"{named}: {text}" if named else text)


#: The attach form: a candidate case's radio (its id) or "other" with a typed case number.
OTHER_CASE = "other"
_CASE_NUMBER = re.compile(r"^\s*(?:cme[\s-]*)?(\d{1,9})\s*$", re.IGNORECASE)


def attach_case_id(form: Mapping[str, str], errors: FormErrors, offered: bool) -> int | None:
    """The case the officer chose (a candidate's radio, or the number typed), or None with
    an error on the box to fix. `offered`: the page showed candidate cases to choose from."""
    choice = form.get("case_id", "").strip()
    typed = form.get("case_ref", "").strip()
    if choice and choice != OTHER_CASE:
        if typed:
            errors.add("case_ref", "Select 'Another case' to use this case number, or clear it")
            return None
        if choice.isdigit():
            return int(choice)
        errors.add("case_id", "Select the case to add this referral to")
        return None
    if not choice and not typed and offered:
        errors.add("case_id", "Select the case to add this referral to")
        return None
    m = _CASE_NUMBER.match(typed)
    if m is None:
        errors.add("case_ref", "Enter the case number, like CME-12")
        return None
    return int(m.group(1))


def dismiss_choice(form: Mapping[str, str], errors: FormErrors) -> tuple[str, str]:
    """The reason code and the note ("" if none); an error when no reason is chosen."""
    reason = form.get("dismiss_reason", "").strip()
    if reason not in DISMISS_REASONS:
        errors.add(
            "dismiss_reason", "Select why this referral is not about a child missing education"
        )
    return reason, form.get("dismiss_note", "").strip()

"""What a new referral must carry, validated before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from gateway.models.referral import Channel, Urgency
from parsers.identifiers import check_upn, normalise_postcode


class InputError(ValueError):
    """Input a person must fix; the message names the field and what is wrong."""


@dataclass(frozen=True)
class ReferralInput:
    forename: str
    surname: str
    channel: str = Channel.PHONE.value
    received: date | None = None
    dob: date | None = None
    sex: str | None = None
    upn: str | None = None
    former_upns: tuple[str, ...] = ()
    middle_names: str | None = None
    aliases: tuple[str, ...] = ()
    year_group: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    town: str | None = None
    postcode: str | None = None
    reason: str | None = None
    referrer_name: str | None = None
    referrer_role: str | None = None
    referrer_organisation: str | None = None
    referrer_email: str | None = None
    referrer_phone: str | None = None
    urgency: str = Urgency.ROUTINE.value
    flags: dict[str, bool] = field(default_factory=dict)
    school: str | None = None
    date_last_attended: date | None = None
    date_last_seen: date | None = None
    carers: tuple[dict[str, Any], ...] = ()
    siblings: tuple[dict[str, Any], ...] = ()
    languages: tuple[str, ...] = ()
    draft: dict[str, Any] | None = None
    gaps: tuple[str, ...] = ()
    raw_ref: str | None = None

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


def build_referral_input(values: dict[str, Any], *, today: date) -> ReferralInput:
    """Validate loose values (CLI flags, JSON, a form) into a ReferralInput."""
    known = set(ReferralInput.field_names())
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}; known fields: {', '.join(sorted(known))}")
    v = {k: (val.strip() if isinstance(val, str) else val) for k, val in values.items()}
    v = {k: val for k, val in v.items() if val not in (None, "")}
    for required in ("forename", "surname"):
        if not v.get(required):
            raise InputError(f"{required} is required")
    if not isinstance(v["forename"], str) or not isinstance(v["surname"], str):
        raise InputError("forename and surname must be text")
    channel = v.get("channel", Channel.PHONE.value)
    if channel not in {c.value for c in Channel}:
        raise InputError(f"channel must be one of: {', '.join(c.value for c in Channel)}")
    urgency = v.get("urgency", Urgency.ROUTINE.value)
    if urgency not in {u.value for u in Urgency}:
        raise InputError(f"urgency must be one of: {', '.join(u.value for u in Urgency)}")
    sex = v.get("sex")
    if sex is not None:
        sex = str(sex).upper()
        if sex not in {"M", "F"}:
            raise InputError(f"sex must be M or F, not {v['sex']!r}")
    dob = _date(v.get("dob"), "dob")
    received = _date(v.get("received"), "received") or today
    if received > today:
        raise InputError(f"received date {received} is in the future")
    if dob is not None and (dob >= received or dob.year < received.year - 25):
        raise InputError(f"dob {dob} is not a plausible date of birth for a school-age child")
    upn = v.get("upn")
    if upn is not None:
        check = check_upn(str(upn))
        if not check.valid:
            raise InputError(f"upn {upn!r} is not valid: {'; '.join(check.problems)}")
        upn = check.value
    postcode = v.get("postcode")
    if postcode is not None:
        normal = normalise_postcode(str(postcode))
        if normal is None:
            raise InputError(f"postcode {postcode!r} is not a valid UK postcode")
        postcode = normal
    email = v.get("referrer_email")
    if email is not None and ("@" not in str(email) or " " in str(email)):
        raise InputError(f"referrer_email {email!r} is not an email address")
    for k in ("former_upns", "aliases", "carers", "siblings", "languages", "gaps"):
        if k in v:
            if not isinstance(v[k], list | tuple):
                raise InputError(f"{k} must be a list")
            v[k] = tuple(v[k])
    merged: dict[str, Any] = {
        **v,
        "channel": channel,
        "urgency": urgency,
        "sex": sex,
        "dob": dob,
        "received": received,
        "upn": upn,
        "postcode": postcode,
        "date_last_attended": _date(v.get("date_last_attended"), "date_last_attended"),
        "date_last_seen": _date(v.get("date_last_seen"), "date_last_seen"),
    }
    return ReferralInput(**merged)

"""What a new referral must carry, validated before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from gateway.models.referral import Channel, Urgency
from parsers.identifiers import check_upn, normalise_postcode


class InputError(ValueError):
    """Input a person must fix; the message names the field and what is wrong.

    `problems`: every field that is wrong, when the input was checked as a whole (a form
    shows each beside its box).
    """

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


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
    # [{"action", "date", "outcome"}]: what the referrer already tried.
    actions_taken: tuple[dict[str, Any], ...] = ()
    # An age the referrer gave instead of a date of birth ("about 9 or 10"): (9, 10).
    age_range: tuple[int, int] | None = None
    # The referrer asked not to be named (never in letters or exchange messages).
    anonymous: bool = False
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


@dataclass(frozen=True)
class Problem:
    """One field that cannot be taken as given, and what is wrong with it."""

    field: str
    message: str


def build_referral_input(values: dict[str, Any], *, today: date) -> ReferralInput:
    """Validate loose values (CLI flags, JSON, a form) into a ReferralInput."""
    cleaned, problems = clean_referral_values(values, today=today)
    if problems:
        raise InputError(problems[0].message)
    return ReferralInput(**cleaned)


def clean_referral_values(
    values: dict[str, Any], *, today: date
) -> tuple[dict[str, Any], list[Problem]]:
    """Every value that is valid, typed as ReferralInput takes it, and the problems.

    A referral awaiting triage keeps what it has (a prose referral may carry no surname);
    only opening a case needs the whole of it (build_referral_input).
    """
    problems: list[Problem] = []
    known = set(ReferralInput.field_names())
    for name in sorted(set(values) - known):
        problems.append(
            Problem(name, f"unknown field {name!r}; known fields: {', '.join(sorted(known))}")
        )
    v = {k: (val.strip() if isinstance(val, str) else val) for k, val in values.items()}
    v = {k: val for k, val in v.items() if val not in (None, "") and k in known}

    def bad(name: str, message: str) -> None:
        problems.append(Problem(name, message))
        v.pop(name, None)

    for required in ("forename", "surname"):
        if not v.get(required):
            bad(required, f"{required} is required")
        elif not isinstance(v[required], str):
            bad(required, "forename and surname must be text")
    channel = v.get("channel", Channel.PHONE.value)
    if channel not in {c.value for c in Channel}:
        bad("channel", f"channel must be one of: {', '.join(c.value for c in Channel)}")
        channel = Channel.PHONE.value
    urgency = v.get("urgency", Urgency.ROUTINE.value)
    if urgency not in {u.value for u in Urgency}:
        bad("urgency", f"urgency must be one of: {', '.join(u.value for u in Urgency)}")
        urgency = Urgency.ROUTINE.value
    sex = v.get("sex")
    if sex is not None:
        sex = str(sex).upper()
        if sex not in {"M", "F"}:
            bad("sex", f"sex must be M or F, not {v['sex']!r}")
            sex = None
    dates: dict[str, date | None] = {}
    for name in ("dob", "received", "date_last_attended", "date_last_seen"):
        try:
            dates[name] = _date(v.get(name), name)
        except InputError as exc:
            bad(name, str(exc))
            dates[name] = None
    received = dates["received"] or today
    if received > today:
        bad("received", f"received date {received} is in the future")
        received = today
    dob = dates["dob"]
    if dob is not None and (dob >= received or dob.year < received.year - 25):
        bad("dob", f"dob {dob} is not a plausible date of birth for a school-age child")
        dob = None
    upn = v.get("upn")
    if upn is not None:
        check = check_upn(str(upn))
        if not check.valid:
            bad("upn", f"upn {upn!r} is not valid: {'; '.join(check.problems)}")
            upn = None
        else:
            upn = check.value
    postcode = v.get("postcode")
    if postcode is not None:
        normal = normalise_postcode(str(postcode))
        if normal is None:
            bad("postcode", f"postcode {postcode!r} is not a valid UK postcode")
        postcode = normal
    email = v.get("referrer_email")
    if email is not None and ("@" not in str(email) or " " in str(email)):
        bad("referrer_email", f"referrer_email {email!r} is not an email address")
    for k in ("former_upns", "aliases", "carers", "siblings", "languages", "gaps", "actions_taken"):
        if k in v:
            if not isinstance(v[k], list | tuple):
                bad(k, f"{k} must be a list")
            else:
                v[k] = tuple(v[k])
    if "flags" in v and not isinstance(v["flags"], dict):
        bad("flags", "flags must be a mapping of flag to yes or no")
    if "age_range" in v:
        age = v["age_range"]
        if not (
            isinstance(age, list | tuple)
            and len(age) == 2
            and all(isinstance(a, int) and 3 <= a <= 19 for a in age)
            and age[0] <= age[1]
        ):
            bad("age_range", "age_range must be two ages in years, youngest first")
        else:
            v["age_range"] = (int(age[0]), int(age[1]))
    merged: dict[str, Any] = {
        **v,
        "channel": channel,
        "urgency": urgency,
        "sex": sex,
        "dob": dob,
        "received": received,
        "upn": upn,
        "postcode": postcode,
        "date_last_attended": dates["date_last_attended"],
        "date_last_seen": dates["date_last_seen"],
    }
    return {k: val for k, val in merged.items() if k in known}, problems

"""The triage pages in a person's words: each value with where it came from, the family,
the concerns and each candidate's evidence, laid out from what gateway.triage reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.cases.describe import long_date
from gateway.cases.labels import (
    CANDIDATE_STATES,
    DECISIONS,
    DISMISS_REASONS,
    FIELDS,
    REFERRAL_FLAGS,
    SEX,
    SOURCES,
    TRIAGE_STATES,
    URGENCIES,
    channel_label,
    label,
)
from gateway.matching.candidates import CandidateView
from gateway.matching.review import FieldRow, build_review, ref_label
from gateway.models.matching import CandidateState
from gateway.models.referral import Channel, Referral, TriageStatus, Urgency
from gateway.triage.queries import TriageItem, TriageRow
from web.waterfall import percent

NOT_KNOWN = "Not known"


def age_words(age_range: Sequence[int] | None) -> str:
    if not age_range or len(age_range) != 2:
        return ""
    low, high = age_range
    return f"About {low}" if low == high else f"Between {low} and {high}"


def origin_words(detail: Mapping[str, Any] | None, channel: str) -> str | None:
    """Where the parser read a value: "From the text: '...'", "From the form field '...'"."""
    if not detail:
        return None
    origin = detail.get("origin")
    seen = (detail.get("source") or {}).get("label")
    context = detail.get("context") or detail.get("raw")
    if origin == "prose":
        whole = context and context == str(detail.get("value") or "")
        return "From the text" if not context or whole else f"From the text: '{context}'"
    if origin == "docx":
        return f"From the form field '{seen}'" if seen else "From the attached form"
    if origin == "label":
        if channel == Channel.FORM.value:
            return f"From the online form's question '{seen}'" if seen else "From the online form"
        return f"From the line labelled '{seen}'" if seen else "From a labelled line"
    if origin == "signature":
        return "From the sign-off at the end of the message"
    if origin == "header":
        return "From the sender of the email"
    if origin == "subject":
        return "From the email's subject"
    return None


@dataclass(frozen=True)
class Shown:
    """One value as the page shows it (empty `text`: not known), with where it came from."""

    key: str
    label: str
    text: str
    origin: str | None = None


@dataclass(frozen=True)
class Cue:
    """Words that raised the safeguarding flag, and the sentence they are in."""

    phrase: str
    sentence: str


@dataclass(frozen=True)
class Person:
    """A parent, carer or sibling as the referral names them."""

    name: str
    relationship: str
    detail: str


@dataclass(frozen=True)
class Action:
    when: str
    step: str
    outcome: str


@dataclass(frozen=True)
class CandidateLine:
    """A stored candidate: what it is, how likely, and the evidence field by field."""

    id: int
    source: str
    target: str
    name: str
    decision: str
    state: str
    likelihood: str
    case_id: int | None
    evidence: tuple[FieldRow, ...]

    @property
    def title(self) -> str:
        """The card's heading: "Case CME-12: Oliver Testbrook", "Lost pupil: Amelia Smith"."""
        if self.case_id is not None:
            return f"{self.target}: {self.name}"
        return f"{self.source}: {self.target}"

    @property
    def review_path(self) -> str:
        # The match review pages (web/matches.py) own this URL; linked by path.
        return f"/matches/{self.id}"

    @property
    def summary(self) -> str:
        """The line in the queue: "May be case CME-12, likely match"."""
        who = (
            f"case CME-{self.case_id}"
            if self.case_id is not None
            else f"{self.name} ({self.source})"
        )
        return f"May be {who}, {self.decision[:1].lower()}{self.decision[1:]}"


def _record_name(evidence: Sequence[Mapping[str, Any]]) -> str:
    parts = {str(e.get("field")): str(e.get("record_value") or "") for e in evidence}
    return " ".join(p for p in (parts.get("forename", ""), parts.get("surname", "")) if p)


def candidate_line(c: CandidateView) -> CandidateLine:
    kind, _, ident = c.target_ref.partition(":")
    name = _record_name(c.evidence)
    case_id = int(ident) if kind == "case" and ident.isdigit() else None
    target = ref_label(c.target_ref)
    return CandidateLine(
        id=c.id,
        source=label(SOURCES, c.target_kind or kind),
        target=target if case_id is not None else (name or target),
        name=name or "No name recorded",
        decision=label(DECISIONS, c.decision),
        state="" if c.state == CandidateState.PENDING.value else label(CANDIDATE_STATES, c.state),
        likelihood=percent(c.probability),
        case_id=case_id,
        evidence=build_review(c).fields,
    )


@dataclass(frozen=True)
class QueueLine:
    """One referral in the queue, as its row reads."""

    id: int
    received: str
    channel: str
    urgency: str
    name: str
    born: str
    postcode: str
    gaps: int
    best: str


def child_name(details: Mapping[str, Any]) -> str:
    name = " ".join(str(details.get(k) or "") for k in ("forename", "surname")).split()
    return " ".join(name)


def born_words(details: Mapping[str, Any]) -> str:
    if details.get("dob"):
        return long_date(details["dob"])
    age = age_words(details.get("age_range"))
    return f"{age} years old" if age else ""


def queue_line(row: TriageRow) -> QueueLine:
    best = candidate_line(row.candidates[0]).summary if row.candidates else ""
    return QueueLine(
        id=row.id,
        received=long_date(row.received),
        channel=channel_label(row.channel),
        urgency=row.urgency,
        name=child_name(row.draft),
        born=born_words(row.draft),
        postcode=str(row.draft.get("postcode") or ""),
        gaps=len(row.gaps),
        best=best,
    )


@dataclass(frozen=True)
class Decided:
    """What was decided about a referral no longer in the queue, by whom and when."""

    status: str
    by: str
    at: datetime | None
    case_id: int | None
    reason: str
    note: str


@dataclass(frozen=True)
class TriagePage:
    """Everything the triage page shows about one referral."""

    id: int
    name: str
    received: str
    channel: str
    urgency: str
    urgency_label: str
    urgency_origin: str | None
    typed_in_by: str | None
    child: tuple[Shown, ...]
    school: tuple[Shown, ...]
    referrer: tuple[Shown, ...]
    reason: Shown
    cues: tuple[Cue, ...]
    flags: tuple[Shown, ...]
    anonymous: Shown | None
    carers: tuple[Person, ...]
    siblings: tuple[Person, ...]
    actions: tuple[Action, ...]
    gaps: tuple[str, ...]
    candidates: tuple[CandidateLine, ...]
    decided: Decided | None

    @property
    def urgent(self) -> bool:
        return self.urgency != Urgency.ROUTINE.value

    @property
    def candidate_cases(self) -> tuple[CandidateLine, ...]:
        return tuple(c for c in self.candidates if c.case_id is not None)


def _people(rows: Sequence[Any], kind: str) -> tuple[Person, ...]:
    out = []
    for r in rows:
        if not isinstance(r, Mapping):
            continue
        extra = []
        if r.get("dob"):
            extra.append(f"born {long_date(r['dob'])}")
        if r.get("age_range"):
            extra.append(age_words(r["age_range"]).lower() + " years old")
        if r.get("school"):
            extra.append(f"school: {r['school']}")
        for key in ("phone", "email", "address"):
            if r.get(key):
                extra.append(str(r[key]))
        if r.get("lives_with"):
            extra.append("lives with the child")
        default = "Parent or carer" if kind == "carer" else "Sibling"
        out.append(
            Person(
                name=str(r.get("name") or "No name given"),
                relationship=str(r.get("relationship") or default),
                detail="; ".join(extra),
            )
        )
    return tuple(out)


def _actions(rows: Sequence[Any]) -> tuple[Action, ...]:
    return tuple(
        Action(
            when=long_date(a.get("date")) or NOT_KNOWN,
            step=str(a.get("step") or a.get("action") or ""),
            outcome=str(a.get("outcome") or "") or NOT_KNOWN,
        )
        for a in rows
        if isinstance(a, Mapping)
    )


def _decided(referral: Referral) -> Decided | None:
    if referral.triage_status == TriageStatus.AWAITING.value:
        return None
    by = referral.triaged_by or referral.created_by
    return Decided(
        status=label(TRIAGE_STATES, referral.triage_status),
        by="the gateway, automatically" if by == "intake" or by.startswith("system:") else by,
        at=referral.triaged_at,
        case_id=referral.case_id,
        reason=label(DISMISS_REASONS, referral.triage_reason) if referral.triage_reason else "",
        note=referral.triage_note or "",
    )


def triage_page(item: TriageItem) -> TriagePage:
    referral = item.referral
    d = dict(referral.details or {})
    draft = referral.draft or {}
    detail: Mapping[str, Any] = draft.get("detail") or {}
    channel = referral.channel

    def shown(key: str, text: Any, name: str | None = None, origin_of: str | None = None) -> Shown:
        return Shown(
            key,
            name or label(FIELDS, key),
            "" if text in (None, "") else str(text),
            origin_words(detail.get(origin_of or key), channel),
        )

    address = ", ".join(str(d[k]) for k in ("address_line1", "address_line2", "town") if d.get(k))
    child = [
        shown("forename", d.get("forename")),
        shown("surname", d.get("surname")),
        *([shown("middle_names", d["middle_names"])] if d.get("middle_names") else []),
        *(
            [shown("aliases", ", ".join(map(str, d["aliases"])), "Other names")]
            if d.get("aliases")
            else []
        ),
        shown("dob", long_date(d.get("dob"))),
        *(
            [shown("age_range", age_words(d["age_range"]) + " years old")]
            if d.get("age_range")
            else []
        ),
        shown("sex", SEX.get(str(d.get("sex") or ""), d.get("sex"))),
        shown("upn", d.get("upn")),
        *([shown("year_group", d["year_group"])] if d.get("year_group") else []),
        shown("address_line1", address, "Address"),
        shown("postcode", d.get("postcode")),
        *(
            [shown("languages", ", ".join(map(str, d["languages"])), "Languages")]
            if d.get("languages")
            else []
        ),
    ]
    attended = long_date(referral.date_last_attended) or draft.get("date_last_attended_text")
    seen = long_date(referral.date_last_seen) or draft.get("date_last_seen_text")
    school = (
        shown("school", referral.school, "School (current or last attended)"),
        shown("date_last_attended", attended, "Date last attended"),
        shown("date_last_seen", seen, "Date last seen"),
    )
    referrer = (
        shown("referrer_name", referral.referrer_name, "Name"),
        shown("referrer_role", referral.referrer_role, "Role"),
        shown("referrer_organisation", referral.referrer_organisation, "Organisation"),
        shown("referrer_phone", referral.referrer_phone, "Phone"),
        shown("referrer_email", referral.referrer_email, "Email"),
    )
    cues = tuple(
        Cue(str(c.get("phrase") or ""), str(c.get("sentence") or ""))
        for c in draft.get("safeguarding_cues") or ()
        if isinstance(c, Mapping)
    )
    flags = tuple(
        shown(f"flag-{code}", "Yes" if value else "No", label(REFERRAL_FLAGS, code), code)
        for code, value in (referral.flags or {}).items()
        if value is not None
    )
    anonymous = (
        shown("anonymous", "The referrer asked not to be named", "Anonymity")
        if referral.anonymous
        else None
    )
    return TriagePage(
        id=referral.id,
        name=child_name(d),
        received=long_date(referral.received_on),
        channel=channel_label(channel),
        urgency=referral.urgency,
        urgency_label=label(URGENCIES, referral.urgency),
        urgency_origin=origin_words(detail.get("urgency"), channel),
        typed_in_by=None if referral.draft else referral.created_by,
        child=tuple(child),
        school=school,
        referrer=referrer,
        reason=shown("reason", referral.reason, "Why they are referring the child"),
        cues=cues,
        flags=flags,
        anonymous=anonymous,
        carers=_people(d.get("carers") or (), "carer"),
        siblings=_people(d.get("siblings") or (), "sibling"),
        actions=_actions(referral.actions_taken or ()),
        gaps=tuple(str(g)[:1].upper() + str(g)[1:] for g in referral.gaps or ()),
        candidates=tuple(candidate_line(c) for c in item.row.candidates),
        decided=_decided(referral),
    )

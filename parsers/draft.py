"""The referral draft: each field's value, confidence and source, the family, actions and gaps."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from parsers.form_lines import Span

FLAGS = ("looked_after", "social_care", "child_protection", "sen_ehcp", "traveller")


class SourceKind(enum.StrEnum):
    TEXT = "text"
    HTML = "html"
    DOCX = "docx"
    EMAIL = "email"


class Origin(enum.StrEnum):
    """How a value was read: under a label, in a .docx form, in a sentence, from the sign-off."""

    LABEL = "label"
    DOCX = "docx"
    PROSE = "prose"
    SIGNATURE = "signature"
    HEADER = "header"
    SUBJECT = "subject"


@dataclass(frozen=True)
class Field:
    """One value of the draft: how sure the parser is, and where in the text it was read.

    `source` is the span of the words the value was read from (offsets into the draft's
    text); `origin` says how (a labelled field, a .docx field, prose...); `context` is the
    sentence a prose value was read from, for the officer to see it beside the value.
    """

    name: str
    value: Any
    confidence: float
    source: Span | None = None
    raw: str | None = None
    origin: str | None = None
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        src = None
        if self.source is not None:
            s = self.source
            src = {"start": s.start, "end": s.end, "where": s.where, "label": s.label}
        return {"value": _json(self.value), "confidence": self.confidence, "source": src,
                "raw": self.raw, "origin": self.origin, "context": self.context}  # fmt: skip


def _json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


#: Fields of the flat JSON; the last group is read but not (yet) taken by ReferralInput.
FLAT_KEYS = (
    "forename", "surname", "middle_names", "aliases", "dob", "sex", "upn", "former_upns",
    "year_group", "address_line1", "address_line2", "town", "postcode", "new_address",
    "languages", "interpreter", "school", "new_school", "date_last_attended", "date_last_seen",
    "reason", "referrer_name", "referrer_role", "referrer_organisation", "referrer_email",
    "referrer_phone", "referral_date",
    "age_range", "birthday", "date_last_attended_text", "date_last_seen_text", "anonymous",
    "safeguarding", "safeguarding_cues",
)  # fmt: skip
#: Read and shown, but not fields of the gateway's ReferralInput: kept out of `fields`
#: (they stay in `fields["draft"]`, the whole draft, for the triage page).
NOT_INPUT = (
    "source", "detail", "defects", "new_address", "new_school", "interpreter", "referral_date",
    "birthday", "date_last_attended_text", "date_last_seen_text", "safeguarding",
    "safeguarding_cues",
)  # fmt: skip


@dataclass(frozen=True)
class ReferralDraft:
    """The referral as read: fields with confidence and source, people, actions, and gaps."""

    kind: SourceKind
    text: str
    values: tuple[Field, ...]
    carers: tuple[dict[str, Any], ...]
    siblings: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]
    gaps: tuple[str, ...]
    defects: tuple[str, ...] = ()

    def field(self, name: str) -> Field | None:
        """The field of that name (forename, dob, upn, referrer_email, looked_after...)."""
        return next((f for f in self.values if f.name == name), None)

    def value(self, name: str) -> Any:
        f = self.field(name)
        return f.value if f is not None else None

    @property
    def forename(self) -> str | None:
        return self.value("forename")

    @property
    def surname(self) -> str | None:
        return self.value("surname")

    @property
    def dob(self) -> str | None:
        return self.value("dob")

    @property
    def age_range(self) -> tuple[int, int] | None:
        """(youngest, oldest) in years when the referral gives an age and no date of birth."""
        return self.value("age_range")

    @property
    def anonymous(self) -> bool:
        """The referrer asked not to be named to the family."""
        return bool(self.value("anonymous"))

    @property
    def fields(self) -> dict[str, Any]:
        """Flat values shaped as the gateway's ReferralInput takes them (invalid ones left out)."""
        flat = {k: v for k, v in self.to_dict().items() if v not in (None, [], {}, "")}
        for key in NOT_INPUT:
            flat.pop(key, None)
        flat["draft"] = self.to_dict()
        return flat

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON of `cme parse` plus `detail` (value, confidence, source per field)."""
        out: dict[str, Any] = {name: _json(self.value(name)) for name in FLAT_KEYS}
        out["aliases"] = out["aliases"] or []
        out["former_upns"] = out["former_upns"] or []
        out["languages"] = out["languages"] or []
        out["anonymous"] = bool(out["anonymous"])
        out["safeguarding_cues"] = out["safeguarding_cues"] or []
        out["flags"] = {f: self.value(f) for f in FLAGS if self.value(f) is not None}
        out["urgency"] = self.value("urgency") or "routine"
        out["carers"] = [dict(c) for c in self.carers]
        out["siblings"] = [dict(s) for s in self.siblings]
        out["actions_taken"] = [dict(a) for a in self.actions]
        out["gaps"] = list(self.gaps)
        out["source"] = self.kind.value
        out["detail"] = {f.name: f.to_dict() for f in self.values}
        out["defects"] = list(self.defects)
        return out

"""Make the subject access archive for a case: collect, redact and mark, render, and record
it (one row of the disclosure register and an audit entry naming the archive's SHA-256),
in the caller's transaction. The CLI writes the bytes to a file, the console sends them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway import audit, disclosures
from gateway.db import utcnow
from gateway.errors import UserError
from gateway.sar import render
from gateway.sar.collect import SECTIONS, Collected, collect
from gateway.sar.marks import REDACTED, Category, flag
from gateway.sar.redact import Counts, Redactor, Spotter, finish
from gateway.settings import Settings

#: The register's recipient: the archive goes to whoever made the request, once reviewed.
RECIPIENT = "The data subject or their representative (subject access request)"
MAX_REFERENCE = 100

BEFORE_SENDING = (
    "This archive is everything this system holds about the child, for the council to "
    "answer a subject access request (UK GDPR Article 15). It is a draft to review, not "
    "a reply to send as it is.",
    "Check each marked item, decide what the requester may see (third parties' data, and "
    "any exemption in the Data Protection Act 2018, Schedules 2 to 4, such as serious "
    "harm from social work or education data), and redact what they may not.",
)
REDACTION = (
    "the details of a referrer who asked not to be named: their name (as written, surname "
    "first, and each distinctive part of it), email address and phone number are replaced "
    f"by \u201c{REDACTED}\u201d in every field and every text, raw messages and letters "
    "included; their role and organisation, and the network address their messages came "
    "from, are withheld too."
)
CHECK_BY_HAND = (
    "Every marked item: another person's data. Disclose it, redact it, or ask them.",
    "The anonymous referrer could still be recognised by what no pattern can catch: a "
    "nickname, initials, a misspelt name, a description (\u201cthe lady at number 12\u201d), "
    "their relationship to the family, their handwriting or writing style, or the timing "
    "of a message. Read the referrals, messages and letters with that in mind.",
    "A part of the anonymous referrer's name that the child or the family also bear (a "
    "shared surname) is not withheld on its own, only within the whole name.",
    "Attachments other than Word documents (PDFs, scans, photos) are listed by name, not "
    "included (the console never opens attachments): the originals are in the raw store "
    "under the message's number; have them extracted, and review each before adding it.",
    "Lost-pupil files confirmed as this child's are summarised; the school's whole file "
    "is in the lost-pupil store (cme lost-pupils download) if it is to be included.",
    "Email transport headers (Received, DKIM) are left out: they can carry the sender's "
    "network address.",
    "Records about the child that never joined this case are not here: a referral dismissed "
    "or still waiting in triage, a lost-pupil file or a message in quarantine not matched to "
    "it. Search triage, the quarantine and the lost-pupil files for the child.",
    "What other systems hold (social care, the school census, the admissions system) is "
    "not here: ask their owners.",
)


@dataclass(frozen=True)
class Exported:
    """The archive and what was recorded for it."""

    case_id: int
    data: bytes
    sha256: str
    disclosure_id: int
    counts: dict[str, int]
    marked: int
    withheld: int
    anonymous_referrals: tuple[int, ...]
    #: (raw message id, file name) of attachments listed but not in the archive.
    attachments_left_out: tuple[tuple[int, str], ...]

    @property
    def file_name(self) -> str:
        # The case reference only: never a child's name in a file name.
        return f"CME-{self.case_id}-subject-access.zip"


def clean_reference(reference: str | None) -> str | None:
    """The request's own reference (the council's SAR number), checked."""
    value = " ".join((reference or "").split())
    if not value:
        return None
    if len(value) > MAX_REFERENCE:
        raise UserError(f"the request reference must be at most {MAX_REFERENCE} characters")
    return value


#: Sections made of several lists (the others are one record, or one list).
_GROUPED = frozenset({"letters", "exchange", "match_decisions"})


def _count(key: str, value: Any) -> int:
    if key in _GROUPED and isinstance(value, dict):
        return sum(len(v) for v in value.values() if isinstance(v, list))
    return len(value) if isinstance(value, list) else int(bool(value))


def build_document(
    collected: Collected, *, la_name: str, actor: str, reference: str | None
) -> tuple[dict[str, Any], Counts, Redactor]:
    """The finished tree both files are made from."""
    redactor = Redactor(collected.anonymous, collected.protected_names)
    spotter = Spotter(collected.third_parties)
    counts = Counts()
    sections = finish(collected.sections, redactor, spotter, counts)
    doc = {
        "format": render.FORMAT,
        "case": collected.tag,
        "authority": la_name,
        "generated_at": utcnow().replace(microsecond=0).isoformat(),
        "generated_by": finish(flag(actor, Category.STAFF), redactor, spotter, Counts()),
        "reference": reference,
        "about_this_archive": {
            "before_sending": list(BEFORE_SENDING),
            "redaction": REDACTION,
            "check_by_hand": list(CHECK_BY_HAND),
            "files": {
                render.HTML_NAME: "this content as a page to read",
                render.JSON_NAME: "this content as JSON",
            },
        },
        "summary": {
            "sections": {key: _count(key, sections.get(key)) for key in SECTIONS},
            "marked_for_review": counts.flagged,
            "mentions_in_text": counts.mentions,
            "redacted_fields": counts.redacted_fields,
            "redactions_in_text": redactor.replacements,
            "anonymous_referrals": collected.anonymous_referrals,
            "attachments_not_included": [
                {"message": raw_id, "file_name": name}
                for raw_id, name in collected.attachments_left_out
            ],
            "messages_not_read": [
                {"message": raw_id, "reason": why} for raw_id, why in collected.unreadable
            ],
        },
        "sections": sections,
    }
    return doc, counts, redactor


def export_case(
    session: Session,
    settings: Settings,
    engine: Engine,
    case_id: int,
    *,
    actor: str,
    channel: str,
    reference: str | None = None,
) -> Exported:
    """The archive for a case, recorded as a disclosure (the caller commits). Raises
    NotFound for no such case."""
    reference = clean_reference(reference)
    collected = collect(session, settings, engine, case_id)
    doc, counts, redactor = build_document(
        collected, la_name=settings.core.la_name, actor=actor, reference=reference
    )
    data = render.archive(render.html_page(doc, settings.core.timezone), render.json_bytes(doc))
    digest = hashlib.sha256(data).hexdigest()
    sections = [key for key, n in doc["summary"]["sections"].items() if n]
    row = disclosures.record(
        session, kind="sar_archive", case_id=case_id,
        recipient=RECIPIENT + (f", request {reference}" if reference else ""),
        basis=disclosures.LawfulBasis.SUBJECT_ACCESS, channel=channel, fields=sections,
        actor=actor, approved_by=actor,
    )  # fmt: skip
    audit.record(
        session, actor=actor, action="case.sar_export", entity="case", entity_id=case_id,
        detail={
            "disclosure_id": row.id, "sha256": digest, "bytes": len(data),
            "reference": reference, "marked": counts.flagged + counts.mentions,
            "withheld": counts.redacted_fields + redactor.replacements,
            "anonymous_referrals": collected.anonymous_referrals,
        },
    )  # fmt: skip
    return Exported(
        case_id=case_id,
        data=data,
        sha256=digest,
        disclosure_id=row.id,
        counts=dict(doc["summary"]["sections"]),
        marked=counts.flagged + counts.mentions,
        withheld=counts.redacted_fields + redactor.replacements,
        anonymous_referrals=tuple(collected.anonymous_referrals),
        attachments_left_out=tuple(collected.attachments_left_out),
    )

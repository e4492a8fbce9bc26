"""Everything the case page shows, in one call: the case, its timeline (replies readable,
new ones marked), enquiries, new facts to accept, stored match candidates, the work
recorded through the process (steps, onward referrals, letters to print) and viewers.

Opening the page is a view of a child's record: it is audited, and the replies it shows are
marked read by that officer (shown as new this once).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases import queries
from gateway.cases.facts import pending_facts
from gateway.cases.onward import onward_referrals
from gateway.cases.printed import letters_to_print
from gateway.cases.steps import steps_of
from gateway.db import utcnow
from gateway.intake.content import MessageContent, read_content
from gateway.matching.candidates import CandidateView, candidates_for
from gateway.models.case import Case, CaseFact, EnquiryLogEntry, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from gateway.models.intake import RawMessage
from gateway.settings import Settings

REPLY_KINDS = frozenset({"email_reply"})


@dataclass(frozen=True)
class TimelineItem:
    entry: TimelineEntry
    #: Unread until this view: shown with a "new" marker.
    new: bool
    #: What a reply says (read from the raw store), for reply entries.
    content: MessageContent | None = None


@dataclass(frozen=True)
class CasePage:
    case: Case
    timeline: tuple[TimelineItem, ...]
    enquiries: tuple[EnquiryLogEntry, ...]
    facts: tuple[CaseFact, ...]
    candidates: tuple[CandidateView, ...]
    #: The work recorded through steps 3 to 7 (gateway.cases.steps), oldest first.
    steps: tuple[CaseStep, ...] = ()
    onward: tuple[OnwardReferral, ...] = ()
    letters: tuple[PrintedLetter, ...] = ()

    @property
    def new_replies(self) -> int:
        return sum(1 for t in self.timeline if t.new)


def _raw_id(entry: TimelineEntry) -> int | None:
    kind, _, ident = (entry.ref or "").partition(":")
    return int(ident) if kind == "raw" and ident.isdigit() else None


def open_case_page(
    session: Session, settings: Settings, engine: Engine, case_id: int, actor: str
) -> CasePage:
    """The case page's content; audited as a view, replies marked read. Raises NotFound."""
    case = queries.case_detail(session, case_id)
    audit.record(session, actor=actor, action="case.view", entity="case", entity_id=case.id)
    entries = queries.timeline(session, case.id)
    raw_ids = [r for r in (_raw_id(e) for e in entries if e.kind in REPLY_KINDS) if r]
    raws = {
        r.id: r
        for r in session.execute(select(RawMessage).where(RawMessage.id.in_(raw_ids))).scalars()
    }
    items: list[TimelineItem] = []
    now = utcnow()
    for entry in entries:
        content = None
        raw_id = _raw_id(entry)
        if entry.kind in REPLY_KINDS and raw_id in raws:
            content = read_content(settings, engine, raws[raw_id])
        items.append(TimelineItem(entry, entry.unread, content))
        if entry.unread:
            entry.unread = False
            entry.read_by = actor
            entry.read_at = now
    found = candidates_for(session, [f"case:{case.id}"])[f"case:{case.id}"]
    return CasePage(
        case=case,
        timeline=tuple(items),
        enquiries=tuple(queries.enquiry_log(session, case.id)),
        facts=tuple(pending_facts(session, case.id)),
        candidates=tuple(found),
        steps=tuple(steps_of(session, case.id)),
        onward=tuple(onward_referrals(session, case.id)),
        letters=tuple(letters_to_print(session, case.id)),
    )


def count_unread_replies(session: Session) -> dict[int, int]:
    """Case id -> replies no officer has read yet (for the case list's markers)."""
    rows = session.execute(
        select(TimelineEntry.case_id, func.count(TimelineEntry.id))
        .where(TimelineEntry.unread.is_(True))
        .group_by(TimelineEntry.case_id)
    )
    return {int(c): int(n) for c, n in rows}

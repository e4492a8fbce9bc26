"""Which of our cases a record was confirmed to be: the lost-pupil page links to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.matching.decisions import OfficerVerdict
from gateway.models.case import Case
from gateway.models.matching import MatchDecision
from gateway.models.referral import Referral

#: A merged duplicate points at the case kept; chains are short, but never followed forever.
_MAX_MERGES = 10


@dataclass(frozen=True)
class CaseLink:
    id: int
    forename: str
    surname: str
    status: str

    @property
    def tag(self) -> str:
        return f"CME-{self.id}"


def _kept(session: Session, case: Case) -> Case:
    """The case a merged duplicate now lives in."""
    for _ in range(_MAX_MERGES):
        if case.merged_into_id is None:
            break
        into = session.get(Case, case.merged_into_id)
        if into is None:
            break
        case = into
    return case


def cases_confirmed_for_lost_pupil(session: Session, pupil_id: int) -> list[CaseLink]:
    """The cases an officer confirmed as this lost pupil (directly, or through a referral
    that became or joined a case), each followed to the case kept after any merge."""
    refs = session.execute(
        select(MatchDecision.query_ref).where(
            MatchDecision.target_kind == "lost_pupil",
            MatchDecision.target_ref == str(pupil_id),
            MatchDecision.verdict == OfficerVerdict.CONFIRMED.value,
        )
    ).scalars()
    case_ids: list[int] = []
    for ref in refs:
        kind, _, ident = ref.partition(":")
        if not ident.isdigit():
            continue
        if kind == "case":
            case_ids.append(int(ident))
        elif kind == "referral":
            referral = session.get(Referral, int(ident))
            if referral is not None and referral.case_id is not None:
                case_ids.append(referral.case_id)
    links: dict[int, CaseLink] = {}
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is None:
            continue
        case = _kept(session, case)
        links[case.id] = CaseLink(case.id, case.child.forenames, case.child.surname, case.status)
    return sorted(links.values(), key=lambda c: c.id)

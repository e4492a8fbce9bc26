"""The reports' two GET forms: the caseload's filters and the termly reports' choice of term,
each read from the query string with its errors (the views only pass them on)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from gateway.reports import caseload, terms
from gateway.reports.errors import ReportError
from gateway.reports.terms import Term
from gateway.settings import Reports
from web.form_errors import FormErrors

#: How many terms the select offers: this one and the five before it (two school years).
RECENT_TERMS = 6
#: The value of the "urgent only" checkbox when ticked.
YES = "yes"


@dataclass(frozen=True)
class CaseloadFilters:
    """What the caseload is filtered by; a value that is not a choice is dropped, with its
    error, so the page still shows the list."""

    officer: str | None = None  # a username, or caseload.UNALLOCATED
    status: str | None = None
    urgent_only: bool = False
    errors: FormErrors = field(default_factory=FormErrors)

    @classmethod
    def read(
        cls,
        args: Mapping[str, str],
        *,
        officers: Sequence[tuple[str, str]],
        statuses: Mapping[str, str],
    ) -> CaseloadFilters:
        """`officers`: (username, name) a case can be allocated to; `statuses`: the open
        statuses, code to words."""
        errors = FormErrors()
        officer = args.get("officer", "").strip() or None
        if officer not in (None, caseload.UNALLOCATED, *(u for u, _ in officers)):
            errors.add("officer", "Select an officer from the list")
            officer = None
        status = args.get("status", "").strip() or None
        if status is not None and status not in statuses:
            errors.add("status", "Select an open status from the list")
            status = None
        urgent = args.get("urgent", "").strip()
        if urgent not in ("", YES):
            errors.add("urgent", "Tick the box to show only urgent and safeguarding cases")
        return cls(officer, status, urgent == YES, errors)

    def query(self) -> dict[str, str]:
        """The filters as a query string, for the downloads of the same list."""
        out = {"officer": self.officer or "", "status": self.status or ""}
        if self.urgent_only:
            out["urgent"] = YES
        return {k: v for k, v in out.items() if v}


def recent_terms(r: Reports, today: date, count: int = RECENT_TERMS) -> list[Term]:
    """The term `today` falls in and the ones before it, newest first."""
    found = [terms.term_of(r, today)]
    while len(found) < count:
        found.append(terms.term_of(r, found[-1].start - timedelta(days=1)))
    return found


@dataclass(frozen=True)
class TermChoice:
    """The term asked for (the current one if none was), the terms offered, and any error.
    A term that has not started, or a name that is not a term, is an error: no report."""

    term: Term | None
    options: tuple[Term, ...]
    errors: FormErrors

    @classmethod
    def read(cls, args: Mapping[str, str], r: Reports, today: date) -> TermChoice:
        errors = FormErrors()
        options = recent_terms(r, today)
        name = args.get("term", "").strip()
        if not name:
            return cls(options[0], tuple(options), errors)
        try:
            chosen: Term | None = terms.term(r, name)
        except ReportError:
            chosen = None
        if chosen is None:
            errors.add("term", "Select a term from the list")
        elif chosen.start > today:
            errors.add(
                "term", f"The {chosen.label} has not started yet: select a term from the list"
            )
            chosen = None
        elif chosen not in options:
            # An older term (from a link or the address bar) is answered, and offered.
            options = sorted([*options, chosen], key=lambda t: t.start, reverse=True)
        return cls(chosen, tuple(options), errors)

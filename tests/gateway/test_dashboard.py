"""The dashboard's figures and allocation of cases to officers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cases.allocation import allocate, caseloads
from gateway.cases.inputs import InputError, build_referral_input
from gateway.cases.service import log_referral
from gateway.dashboard import dashboard
from gateway.db import make_engine, utcnow
from gateway.models.audit import AuditEntry
from gateway.settings import Settings, load_settings
from gateway.triage.service import receive
from gateway.users import Role, add_user

TODAY = utcnow().date()


@pytest.fixture
def home(cme_home: Path) -> tuple[Settings, Engine]:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine) as s:
        for name in ("olivia", "oscar"):
            add_user(s, username=name, password="a-long-test-password", role=Role.OFFICER,
                     display_name=name.title() + " Tester", totp=False, actor="test")  # fmt: skip
        s.commit()
    yield settings, engine
    engine.dispose()


def _case(s: Session, settings: Settings, name: str, urgency: str = "routine") -> int:
    received = (TODAY - timedelta(days=30)).isoformat()
    data = build_referral_input(
        {"forename": name, "surname": "Testperson", "dob": "2015-03-01", "urgency": urgency,
         "referrer_email": "a@school.example", "received": received},
        today=TODAY,
    )  # fmt: skip
    return log_referral(s, settings, data, "test").id


def test_allocation_is_audited_and_refuses_unknown_officers(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings, "Ava")
        allocate(s, case_id, "olivia", "manager")
        allocate(s, case_id, "oscar", "manager")
        with pytest.raises(InputError, match="no active user"):
            allocate(s, case_id, "nobody", "manager")
        s.commit()
        entries = (
            s.execute(select(AuditEntry.detail).where(AuditEntry.action == "case.allocate"))
            .scalars()
            .all()
        )
        assert entries == [
            {"before": None, "after": "olivia"},
            {"before": "olivia", "after": "oscar"},
        ]


def test_dashboard_puts_urgent_first_and_counts_what_waits(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        routine = _case(s, settings, "Ava")
        urgent = _case(s, settings, "Ben", "safeguarding")
        other = _case(s, settings, "Cal")
        for cid in (routine, urgent):
            allocate(s, cid, "olivia", "manager")
        allocate(s, other, "oscar", "manager")
        receive(s, settings, {"forename": "Dee", "reason": "x", "channel": "phone",
                              "urgency": "urgent"}, actor="t")  # fmt: skip
        s.commit()
        board = dashboard(s, "olivia", TODAY)
        assert [c.id for c in board.my_cases] == [urgent, routine]
        assert board.my_cases[0].urgency == "safeguarding"
        assert (board.my_open, board.team_open, board.unallocated) == (2, 3, 0)
        assert (board.awaiting_triage, board.urgent_triage, board.urgent_open) == (1, 1, 1)
        # Progress updates were due 10 working days after a referral 30 days ago: overdue.
        assert board.tasks_overdue >= 3 and board.overdue_by_kind["progress_update"] >= 3
        assert all(t.overdue for t in board.tasks if t.due < TODAY)
        loads = {c.username: c for c in caseloads(s, TODAY)}
        assert (loads["olivia"].open_cases, loads["olivia"].urgent) == (2, 1)
        assert loads["oscar"].display_name == "Oscar Tester"

"""Monitoring ends with its case: no timer discloses a child's details about a closed case."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases.inputs import ReferralInput
from gateway.cases.service import close_case, log_referral
from gateway.db import make_engine, utcnow
from gateway.exchange import monitoring
from gateway.exchange.partners import add_partner
from gateway.models.case import Case, TimelineEntry
from gateway.models.exchange import ExchangeMessage, Monitoring
from gateway.settings import Settings, load_settings
from tests.gateway.exchange.conftest import make_identity


def _monitored_case(session: Session, settings: Settings) -> int:
    cert = make_identity("806").certificate.public_bytes(serialization.Encoding.PEM)
    add_partner(
        session, settings, la_code="806", name="Test LA 806", email="cme@la806.example",
        cert_bytes=cert,
    )  # fmt: skip
    case = log_referral(
        session, settings,
        ReferralInput(forename="Ava", surname="Testperson", dob=date(2015, 3, 1)), "test",
    )  # fmt: skip
    monitoring.start(session, settings, case.id, "806", "test")
    session.commit()
    return case.id


def _queued_status_request(session: Session, case_id: int) -> int:
    row = ExchangeMessage(
        direction="out", message_id=str(uuid.uuid4()), partner_la="806",
        doc_type="status-request", case_id=case_id, channel="https", status="queued",
        document=b"<x/>", wire=b"sealed", wire_sha256="0" * 64, next_attempt_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def test_closing_a_monitored_case_by_hand_ends_monitoring(cme_home: Path) -> None:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        pending = _queued_status_request(s, case_id)
        close_case(s, settings, case_id, "left_england", {}, "test")
        s.commit()
    with Session(engine) as s:
        row = s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()
        assert row.status == "closed" and row.closed_reason is not None
        assert "Left England" in row.closed_reason
        queued = s.get(ExchangeMessage, pending)
        assert queued is not None and queued.status == "withdrawn"
    later = utcnow() + timedelta(days=settings.exchange.monitoring_interval_days + 1)
    assert monitoring.send_due_status_requests(engine, settings, later) == 0
    with Session(engine) as s:
        sent = s.execute(select(ExchangeMessage).where(ExchangeMessage.status == "queued"))
        assert sent.scalars().all() == []
    engine.dispose()


def test_a_timer_never_sends_a_status_request_about_a_closed_case(cme_home: Path) -> None:
    """A monitoring row left active on a closed case (before the rule) is ended, not used."""
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        case = s.get(Case, case_id)
        assert case is not None
        case.status = "closed"  # as an old release left it: closed, monitoring still active
        s.commit()
    later = utcnow() + timedelta(days=settings.exchange.monitoring_interval_days + 1)
    assert monitoring.send_due_status_requests(engine, settings, later) == 0
    with Session(engine) as s:
        row = s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()
        assert row.status == "closed"
        assert s.execute(select(ExchangeMessage)).scalars().all() == []
    engine.dispose()


def test_the_monitoring_list_puts_overdue_first_and_can_stop(cme_home: Path) -> None:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        later = utcnow() + timedelta(days=settings.exchange.monitoring_interval_days + 1)
        [row] = monitoring.monitoring_list(s, settings, later)
        assert (row.case_id, row.partner_la, row.partner_name, row.overdue) == (
            case_id, "806", "Test LA 806", True,
        )  # fmt: skip
        assert set(row.as_dict()) >= {"case", "partner_la", "last_confirmed", "next_request"}
        assert monitoring.monitoring_list(s, settings)[0].overdue is False
        monitoring.request_now(s, settings, case_id, "olivia")
        assert monitoring.monitoring_list(s, settings)[0].overdue is True
        monitoring.stop(s, case_id, "moved abroad, confirmed by the family", "olivia")
        s.commit()
        assert monitoring.monitoring_list(s, settings) == []
        case = s.get(Case, case_id)
        assert case is not None and case.status != "closed"
    engine.dispose()


def test_monitoring_on_the_command_line(cme_home: Path, cli) -> None:
    import json

    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
    engine.dispose()
    [row] = json.loads(cli("monitoring", "list", "--json").output)
    assert (row["case"], row["partner_la"], row["overdue"]) == (case_id, "806", False)
    assert set(row) >= {"case", "partner_la", "last_confirmed", "next_request", "overdue"}
    refused = cli("monitoring", "stop", case_id, "--reason", " ")
    assert refused.exit_code != 0 and "say why" in refused.output
    stopped = cli("monitoring", "stop", case_id, "--reason", "left the country")
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(cli("monitoring", "list", "--json").output) == []


def test_a_dead_letter_is_resent_or_abandoned_on_the_command_line(cme_home: Path, cli) -> None:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        first = _queued_status_request(s, case_id)
        second = _queued_status_request(s, case_id)
        for row_id in (first, second):
            row = s.get(ExchangeMessage, row_id)
            assert row is not None
            row.status, row.attempts, row.last_error = "dead", 8, "connection refused"
        s.commit()
    engine.dispose()
    assert cli("exchange", "resend", "exchange", first).exit_code == 0
    refused = cli("exchange", "abandon", "exchange", second, "--reason", " ")
    assert refused.exit_code != 0
    assert cli("exchange", "abandon", "exchange", second, "--reason", "LA closed").exit_code == 0
    engine = make_engine(str(settings.core.database_url))
    with Session(engine) as s:
        again, gone = s.get(ExchangeMessage, first), s.get(ExchangeMessage, second)
        assert again is not None and again.status == "queued"
        assert gone is not None and gone.status == "abandoned"
    engine.dispose()


def test_a_logged_case_on_the_monitoring_list_is_moved_out_by_allowed_moves(
    cme_home: Path,
) -> None:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        case = s.get(Case, case_id)
        assert case is not None and case.status == "moved_out_tracking"
        moves = (
            s.execute(
                select(TimelineEntry.ref)
                .where(TimelineEntry.case_id == case_id, TimelineEntry.kind == "status")
                .order_by(TimelineEntry.id)
            )
            .scalars()
            .all()
        )
        assert moves == ["status:checking_status", "status:moved_out_tracking"]
    engine.dispose()


def _exchange_timeline(session: Session, case_id: int) -> list[str]:
    return list(
        session.execute(
            select(TimelineEntry.summary)
            .where(TimelineEntry.case_id == case_id, TimelineEntry.kind == "exchange")
            .order_by(TimelineEntry.id)
        ).scalars()
    )


def test_the_timeline_says_when_monitoring_started_once(cme_home: Path) -> None:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        monitoring.start(s, settings, case_id, "806", "test")  # again: already monitored
        s.commit()
        [started] = _exchange_timeline(s, case_id)
        assert started.startswith("Monitoring started with Test LA 806 (LA 806)")
        assert f"every {settings.exchange.monitoring_interval_days} days" in started
    engine.dispose()


def test_a_due_status_request_is_sent_in_the_same_round_and_on_the_timeline(
    cme_home: Path, cli
) -> None:
    """The round that queues a status request delivers it too (not one round later)."""
    from gateway.exchange import service

    cli.add_user("ada", "admin")
    assert cli("keys", "init", as_user="ada").exit_code == 0
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    with Session(engine, expire_on_commit=False) as s:
        case_id = _monitored_case(s, settings)
        row = s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()
        row.next_check_at = utcnow() - timedelta(minutes=1)
        s.commit()
    report = service.tick(engine, settings)
    assert (report["status_requests"], report["mailed"]) == (1, 1), report
    with Session(engine) as s:
        sent = s.execute(select(ExchangeMessage.status, ExchangeMessage.doc_type)).all()
        assert [tuple(r) for r in sent] == [("awaiting_receipt", "status-request")]
        assert _exchange_timeline(s, case_id)[-1] == (
            "Status request sent to LA 806: is the child registered at a school there?"
        )
    engine.dispose()

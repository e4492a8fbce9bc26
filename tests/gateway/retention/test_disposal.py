"""Retention on the database: each rule across its date, legal holds, the daily job, and a
case disposed of with everything under it until its child's name is nowhere to be found."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine, func, select

from gateway import audit, jobs
from gateway.db import session_scope
from gateway.intake import quarantine
from gateway.intake.quarantine import Reason
from gateway.intake.rawstore import Arrival, RawStore, RawStoreError
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, CaseFact, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from gateway.models.child import Carer, Child, ChildAddress, Sibling
from gateway.models.exchange import (
    Disclosure,
    ExchangeMessage,
    Monitoring,
    Proposal,
    QuarantinedMessage,
)
from gateway.models.intake import IntakeChannel, QuarantineEntry, RawMessage
from gateway.models.matching import MatchCandidate, MatchDecision
from gateway.models.ops import Job, OutboxMessage
from gateway.models.rawkeys import RawMessageKey, RawShred
from gateway.models.referral import Referral
from gateway.models.retention import RetentionDisposal
from gateway.retention import dispose
from gateway.retention.due import find_due
from gateway.settings import Settings
from gateway.triage import service as triage
from tests.conftest import CliCall
from tests.gateway.retention import scenario

LONDON = ZoneInfo("Europe/London")
DOB = date(2001, 5, 17)  # the 25th birthday: 17 May 2026
OPENED = date(2016, 3, 1)


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)


def _due(
    engine: Engine, settings: Settings, day: date
) -> dict[tuple[str, int], tuple[str, date, bool]]:
    with session_scope(engine) as session:
        return {
            (i.subject, i.subject_id): (i.due.label, i.due.on, i.held)
            for i in find_due(session, settings, day)
        }


def _run(engine: Engine, settings: Settings, day: date) -> dispose.RunReport:
    with time_machine.travel(_at(day), tick=False):
        return dispose.run(engine, settings)


def _exists(engine: Engine, model: type, ident: int) -> bool:
    with session_scope(engine) as session:
        return session.get(model, ident) is not None


def _case(engine: Engine, settings: Settings, store: RawStore, **kw: object) -> int:
    with time_machine.travel(_at(OPENED), tick=False):
        case_id = scenario.open_case(engine, settings, received=OPENED, **kw)  # type: ignore[arg-type]
        scenario.close(engine, settings, case_id)
        scenario.newer_records(engine, settings, store, OPENED)
    return case_id


def test_a_closed_case_goes_on_the_childs_25th_birthday_not_the_day_before(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB)
    eve, birthday = date(2026, 5, 16), date(2026, 5, 17)
    assert ("case", case_id) not in _due(home_engine, home_settings, eve)
    report = _run(home_engine, home_settings, eve)
    assert report.disposed == {} and _exists(home_engine, Case, case_id)

    assert _due(home_engine, home_settings, birthday)[("case", case_id)] == (
        "case_age", birthday, False,
    )  # fmt: skip
    report = _run(home_engine, home_settings, birthday)
    assert report.disposed == {"case": 1}
    assert not _exists(home_engine, Case, case_id)
    with session_scope(home_engine) as session:
        record = session.execute(select(RetentionDisposal)).scalar_one()
        assert (record.subject, record.subject_id, record.rule) == ("case", case_id, "case_age")
        assert record.at.date() == birthday  # when; never the due date (it gives the DOB)
        assert record.counts["cases"] == 1 and record.counts["children"] == 1
        assert record.counts["referrals"] == 1 and len(record.digest) == 64
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "retention.dispose")
        ).scalar_one()
        assert (entry.entity, entry.entity_id, entry.actor) == ("case", str(case_id), dispose.ACTOR)
        assert entry.detail["digest"] == record.digest
        # The audit log is whole: nothing of it went with the case.
        assert audit.verify(session).ok


@pytest.mark.parametrize(
    ("flag", "age"), [("sen_ehcp", 31), ("child_protection", 35), ("looked_after", 75)]
)
def test_a_flagged_case_is_kept_to_the_flags_later_birthday(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore, flag: str, age: int
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB, flags={flag: True})
    assert ("case", case_id) not in _due(home_engine, home_settings, date(2026, 5, 17))
    later = DOB.replace(year=DOB.year + age)
    assert ("case", case_id) not in _due(home_engine, home_settings, date(later.year, 5, 16))
    assert _due(home_engine, home_settings, later)[("case", case_id)] == (
        f"case_flagged:{flag}", later, False,
    )  # fmt: skip


def test_a_case_with_no_date_of_birth_is_kept_a_number_of_years_after_it_closed(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=None)
    due = date(2041, 3, 1)  # closed 1 March 2016, + no_dob_years (25)
    assert ("case", case_id) not in _due(home_engine, home_settings, date(2041, 2, 28))
    assert _due(home_engine, home_settings, due)[("case", case_id)] == ("case_no_dob", due, False)
    assert _run(home_engine, home_settings, due).disposed == {"case": 1}
    assert not _exists(home_engine, Case, case_id)


def test_an_open_case_is_never_due_however_old_the_child(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    with time_machine.travel(_at(OPENED), tick=False):
        case_id = scenario.open_case(home_engine, home_settings, dob=DOB, received=OPENED)
        scenario.newer_records(home_engine, home_settings, raw_store, OPENED)
    assert ("case", case_id) not in _due(home_engine, home_settings, date(2090, 1, 1))


def test_a_dismissed_referral_and_its_message_go_after_their_own_period(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    dismissed = date(2026, 1, 12)
    with time_machine.travel(_at(dismissed), tick=False):
        raw = raw_store.store(
            scenario.email(5, f"Child: {scenario.NAME}"), Arrival(IntakeChannel.SMTP)
        )
        with session_scope(home_engine) as session:
            values = {"forename": scenario.FORENAME, "surname": scenario.SURNAME,
                      "channel": "email", "reason": "not attending"}  # fmt: skip
            routed = triage.receive(
                session, home_settings, values, actor="intake", raw_id=raw.raw_id,
                triage_only=True,
            )  # fmt: skip
            triage.dismiss(session, home_settings, routed.referral_id, "on_roll", "tester")
        scenario.newer_records(home_engine, home_settings, raw_store, dismissed)
        with session_scope(home_engine) as session:
            # A later referral of the queue (awaiting): never disposed of by a rule.
            triage.receive(session, home_settings, {"forename": "X", "surname": "Y"},
                           actor="t", triage_only=True)  # fmt: skip
    due = date(2028, 1, 12)  # + dismissed_referral_days (730)
    assert ("referral", routed.referral_id) not in _due(
        home_engine, home_settings, date(2028, 1, 11)
    )
    assert _due(home_engine, home_settings, due)[("referral", routed.referral_id)] == (
        "referral_dismissed", due, False,
    )  # fmt: skip
    report = _run(home_engine, home_settings, due)
    assert report.disposed == {"referral": 1}
    assert not _exists(home_engine, Referral, routed.referral_id)
    assert not _exists(home_engine, RawMessage, raw.raw_id)
    with session_scope(home_engine) as session:
        assert session.get(RawMessageKey, raw.raw_id) is None
        assert session.execute(select(func.count()).select_from(RawShred)).scalar_one() == 1
        assert session.execute(select(Job).where(Job.key == raw.sha256)).first() is None


def _held(engine: Engine, store: RawStore, n: int, *, discard: bool) -> int:
    raw = store.store(scenario.email(n, f"Unreadable {scenario.NAME}"), Arrival(IntakeChannel.SMTP))
    with session_scope(engine) as session:
        row = session.get(RawMessage, raw.raw_id)
        assert row is not None
        quarantine.hold(session, row, Reason.PARSE_DEFECTS, "test")
        if discard:
            quarantine.discard(session, raw.raw_id, "spam", "tester")
    return raw.raw_id


def test_quarantined_messages_discarded_and_held_go_after_their_own_periods(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    day = date(2026, 2, 2)
    with time_machine.travel(_at(day), tick=False):
        discarded = _held(home_engine, raw_store, 6, discard=True)
        held = _held(home_engine, raw_store, 7, discard=False)
        scenario.newer_records(home_engine, home_settings, raw_store, day)
    first, second = date(2026, 5, 3), date(2027, 2, 2)  # + 90 days; + 365 days
    due = _due(home_engine, home_settings, first)
    assert due[("quarantine", discarded)] == ("quarantine_discarded", first, False)
    assert ("quarantine", held) not in due
    assert _run(home_engine, home_settings, first).disposed == {"quarantine": 1}
    assert not _exists(home_engine, RawMessage, discarded) and _exists(
        home_engine, RawMessage, held
    )
    assert _due(home_engine, home_settings, second)[("quarantine", held)][0] == "quarantine_held"
    report = _run(home_engine, home_settings, second)
    assert report.disposed["quarantine"] == 1
    assert not _exists(home_engine, RawMessage, held)
    with session_scope(home_engine) as session:
        assert session.execute(select(func.count()).select_from(QuarantineEntry)).scalar_one() == 0


def test_a_legal_hold_keeps_a_case_until_a_manager_lifts_it(
    cme_home: Path, home_settings: Settings, home_engine: Engine, raw_store: RawStore, cli: CliCall
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB)
    CliCall.add_user("mina", "manager")
    refused = cli("retention", "hold", case_id, "--reason", "Court order 12")  # an officer
    assert refused.exit_code != 0 and "manager" in refused.output
    assert cli("retention", "hold", case_id, as_user="mina").exit_code != 0  # no reason
    held = cli("retention", "hold", case_id, "--reason", "Court order 12", as_user="mina")
    assert held.exit_code == 0, held.output
    day = date(2030, 1, 1)
    with time_machine.travel(_at(day), tick=False):
        shown = cli("retention", "preview")
        assert f"CME-{case_id}" in shown.output and "HELD" in shown.output
        ran = cli("retention", "run", as_user="mina")
        assert ran.exit_code == 0, ran.output
        assert "Kept by a legal hold: 1" in ran.output
    assert _exists(home_engine, Case, case_id)
    assert cli("retention", "hold", case_id, "--clear", as_user="mina").exit_code == 0
    with time_machine.travel(_at(day), tick=False):
        ran = cli("retention", "run", as_user="mina")
        assert "Disposed of 1 case" in ran.output, ran.output
    assert not _exists(home_engine, Case, case_id)
    with session_scope(home_engine) as session:
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.entity_id == str(case_id))
        ).all()
    assert ("retention.hold", "mina") in actions and ("retention.hold_cleared", "mina") in actions
    assert ("retention.dispose", "mina") in actions
    log = cli("retention", "log", "--json")
    assert f'"id": {case_id}' in log.output and scenario.SURNAME not in log.output


def test_preview_lists_ids_rules_and_dates_and_no_names(
    home_settings: Settings, home_engine: Engine, raw_store: RawStore, cli: CliCall
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB)
    result = cli("retention", "preview", "--on", "2026-05-17")
    assert result.exit_code == 0, result.output
    assert f"CME-{case_id}" in result.output and "case_age" in result.output
    assert "2026-05-17" in result.output
    assert scenario.SURNAME not in result.output and scenario.FORENAME not in result.output
    assert f"CME-{case_id}" not in cli("retention", "preview", "--on", "2026-05-16").output
    assert "Nothing is due" in cli("retention", "preview", "--on", "2016-01-01").output


def test_the_daily_job_runs_once_a_day(
    home_settings: Settings,
    home_engine: Engine,
    raw_store: RawStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB)
    runs: list[date] = []
    real = dispose.run

    def counted(engine: Engine, settings: Settings, **kw: object) -> dispose.RunReport:
        report = real(engine, settings, **kw)  # type: ignore[arg-type]
        runs.append(report.on)
        return report

    monkeypatch.setattr(dispose, "run", counted)
    monkeypatch.setattr(dispose, "_last_run", [])
    for moment in (_at(date(2026, 5, 16), 1), _at(date(2026, 5, 16), 23)):
        with time_machine.travel(moment, tick=False):
            jobs.run_periodic(home_engine, home_settings)
    assert runs == [date(2026, 5, 16)] and _exists(home_engine, Case, case_id)
    with time_machine.travel(_at(date(2026, 5, 17), 0), tick=False):
        jobs.run_periodic(home_engine, home_settings)
    assert runs == [date(2026, 5, 16), date(2026, 5, 17)]
    assert not _exists(home_engine, Case, case_id)


ARTEFACTS = [
    Case, Child, ChildAddress, Carer, Sibling, Referral, TimelineEntry, Task, CaseFact,
    EnquiryLogEntry, CaseStep, OnwardReferral, PrintedLetter, OutboxMessage, MatchCandidate,
    MatchDecision, ExchangeMessage, Proposal, Monitoring, Disclosure, QuarantineEntry,
    QuarantinedMessage, RawMessage, RawMessageKey,
]  # fmt: skip


def test_everything_under_a_case_goes_and_its_childs_name_is_nowhere(
    cme_home: Path, db_url: str, home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    with time_machine.travel(_at(OPENED), tick=False):
        built = scenario.build_full_case(
            home_engine, home_settings, raw_store, dob=DOB, received=OPENED
        )
        scenario.newer_records(home_engine, home_settings, raw_store, OPENED)
    raw_store.close()  # its segment is sealed: every data key is in the database only
    with session_scope(home_engine) as session:
        before = scenario.session_counts(session, ARTEFACTS)
        rows = [session.get(RawMessage, i) for i in built.raw_ids]
        assert all(r is not None and r.encrypted for r in rows)
        assert RawStore(cme_home, home_engine).read(rows[0]).count(scenario.SURNAME.encode()) >= 1  # type: ignore[arg-type]
    assert all(n >= 1 for n in before.values()), before
    # The name is there before, in the database; the raw store holds it sealed only.
    assert scenario.database_hits(home_engine, db_url, scenario.SURNAME)
    assert scenario.file_hits(cme_home / "raw", scenario.SURNAME) == []

    report = _run(home_engine, home_settings, date(2026, 5, 17))
    assert report.disposed == {"case": 1} and report.raw_plaintext == 0

    with session_scope(home_engine) as session:
        after = scenario.session_counts(session, ARTEFACTS)
        record = session.execute(select(RetentionDisposal)).scalar_one()
        for row in rows:
            assert row is not None
            with pytest.raises(RawStoreError, match="disposed of"):
                RawStore(cme_home, home_engine)._read_at(
                    session, row.id, row.sha256, row.size, (row.segment, row.offset, True)
                )
    # What is left belongs to the other child (newer_records) and nothing else.
    for model in ARTEFACTS:
        assert (
            after[model.__tablename__] < before[model.__tablename__]
            or before[model.__tablename__] == 0
        ), model.__tablename__
    assert record.counts["cases"] == 2 and record.counts["children"] == 2  # with the merged one
    assert record.counts["raw_messages"] == 3 and record.counts["raw_keys_shredded"] == 3
    for kind in (
        "exchange_messages", "exchange_proposals", "onward_referrals", "outbox", "printed_letters",
        "match_candidates", "match_decisions", "case_facts", "exchange_monitoring",
        "exchange_disclosures", "quarantine", "exchange_quarantine", "siblings", "carers",
        "child_addresses", "jobs",
    ):  # fmt: skip
        assert record.counts.get(kind, 0) >= 1, kind
    assert scenario.SURNAME not in str(record.counts) and record.rule == "case_age"

    assert scenario.database_hits(home_engine, db_url, scenario.SURNAME) == []
    assert scenario.database_hits(home_engine, db_url, scenario.FORENAME) == []
    db_files = tuple(cme_home.glob("cme.db*"))
    assert scenario.file_hits(cme_home, scenario.SURNAME, skip=db_files) == []
    # No segment key file is left: the disposed messages' keys exist nowhere.
    assert list((cme_home / "raw" / "segments").glob("*.key")) == []


def test_a_message_stored_before_encryption_still_reads_and_is_gone_once_rotated(
    cme_home: Path, home_settings: Settings, home_engine: Engine, raw_store: RawStore
) -> None:
    from gateway.intake.rotation import rotate
    from tests.gateway.intake.test_encryption import legacy_segment

    old = scenario.email(8, f"Child: {scenario.NAME}")
    kept = scenario.email(9, "Another child, kept")
    path = legacy_segment(raw_store.dir, [old, kept])
    assert raw_store.recover() == 2
    case_id = _case(home_engine, home_settings, raw_store, dob=DOB)
    with session_scope(home_engine) as session:
        rows = list(session.execute(select(RawMessage).order_by(RawMessage.id)).scalars())[:2]
        assert not rows[0].encrypted and raw_store.read(rows[0]) == old  # read as before
        rows[0].case_id = case_id
        old_id, kept_id = rows[0].id, rows[1].id

    report = _run(home_engine, home_settings, date(2026, 5, 17))
    assert report.disposed == {"case": 1} and report.raw_plaintext == 1
    assert not _exists(home_engine, RawMessage, old_id)
    # No key to destroy: the bytes are still in the plaintext segment, as the run said ...
    assert scenario.SURNAME.encode() in path.read_bytes()
    # ... until the rotation re-encrypts what is kept and drops the plaintext segment.
    rotated = rotate(cme_home, home_engine)
    assert rotated.reencrypted >= 1 and rotated.segments_removed == 1
    assert scenario.file_hits(cme_home / "raw", scenario.SURNAME) == []
    with session_scope(home_engine) as session:
        row = session.get(RawMessage, kept_id)
        assert row is not None and row.encrypted and raw_store.read(row) == kept


def test_the_newest_case_on_sqlite_waits_for_a_newer_one_so_its_number_is_not_reused(
    home_settings: Settings, home_engine: Engine
) -> None:
    with time_machine.travel(_at(OPENED), tick=False):
        case_id = scenario.open_case(home_engine, home_settings, dob=DOB, received=OPENED)
        scenario.close(home_engine, home_settings, case_id)
    report = _run(home_engine, home_settings, date(2026, 5, 17))
    if home_engine.dialect.name == "sqlite":
        assert report.deferred == 1 and report.disposed == {}
        assert _exists(home_engine, Case, case_id)
        with time_machine.travel(_at(date(2026, 5, 18)), tick=False):
            newer = scenario.open_case(
                home_engine, home_settings, dob=None, received=date(2026, 5, 18)
            )
        assert newer > case_id
        report = _run(home_engine, home_settings, date(2026, 5, 19))
    assert report.disposed == {"case": 1} and not _exists(home_engine, Case, case_id)

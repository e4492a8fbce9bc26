"""`cme demo`: an invented caseload through the real services, on SQLite and PostgreSQL;
its sign-ins work in the console; a home with cases is refused; `cme run` says what to do."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.cases.workflow import CLOSED, load_workflow
from gateway.cli.context import unit_of_work
from gateway.db import utcnow
from gateway.demo.marker import is_demo_home, read_mark, write_mark
from gateway.models.case import Case, EnquiryLogEntry, TimelineEntry
from gateway.models.casework import CaseStep
from gateway.models.exchange import ExchangeMessage, Monitoring, Proposal
from gateway.models.matching import MatchCandidate
from gateway.models.referral import Referral, TriageStatus
from gateway.models.users import User
from gateway.settings import load_settings
from lost_pupil.models import LostPupil
from tests.conftest import CliCall
from tests.support.postgres import free_port

SIGN_IN = re.compile(r"^  (officer|manager)\s+username (\S+)  password (\S+)$", re.MULTILINE)
BANNER = "Demo data: every name here is invented."
#: Steps 3 to 7 of the process, as gateway.cases.steps records them.
STEP_KINDS = (
    "status_check", "home_visit_request", "home_visit", "assessment", "admissions", "escalation",
)  # fmt: skip


def sign_ins(result: Result) -> dict[str, tuple[str, str]]:
    """role -> (username, password), read from the lines `cme demo` prints."""
    return {role: (user, password) for role, user, password in SIGN_IN.findall(result.output)}


def _demo(cli: CliCall, *args: str) -> Result:
    return cli("demo", *args, as_user=None)


def test_the_demo_loads_every_status_triage_history_and_its_sign_ins_work(
    cme_home: Path, cli: CliCall
) -> None:
    result = _demo(cli)
    assert result.exit_code == 0, result.output
    found = sign_ins(result)
    assert set(found) == {"officer", "manager"}, result.output
    assert is_demo_home(cme_home)
    workflow = load_workflow()
    with unit_of_work() as (_s, session):
        statuses = set(session.scalars(select(Case.status)))
        assert statuses == set(workflow.statuses), set(workflow.statuses) - statuses
        outcomes = set(session.scalars(select(Case.outcome).where(Case.status == CLOSED)))
        assert len(outcomes) >= 8 and "no_trace" in outcomes
        kinds_of_step = set(session.scalars(select(CaseStep.kind)))
        assert kinds_of_step >= set(STEP_KINDS), set(STEP_KINDS) - kinds_of_step
        assert session.scalar(select(func.count()).select_from(EnquiryLogEntry))
        acknowledged = select(func.count()).select_from(Case)
        assert session.scalar(acknowledged.where(Case.enquiries_complete_at.is_not(None)))
        flags = set()
        for escalations in session.scalars(select(Case.escalations).where(Case.status != CLOSED)):
            flags |= set(escalations)
        assert flags >= set(workflow.escalations)

        awaiting = list(
            session.scalars(
                select(Referral).where(Referral.triage_status == TriageStatus.AWAITING.value)
            )
        )
        with_candidates = {
            r.id: set(
                session.scalars(
                    select(MatchCandidate.target_kind).where(
                        MatchCandidate.query_ref == f"referral:{r.id}",
                        MatchCandidate.state == "pending",
                    )
                )
            )
            for r in awaiting
        }
        kinds = set().union(*with_candidates.values())
        assert kinds >= {"case", "lost_pupil", "roll", "ehe"}, with_candidates
        # The prose email and the safeguarding one came in through the raw store and dispatch.
        emailed = [r for r in awaiting if r.raw_id is not None]
        assert len(emailed) == 2
        assert any(r.urgency == "safeguarding" and with_candidates[r.id] for r in emailed)
        assert any(not r.details.get("surname") and with_candidates[r.id] for r in emailed)

        assert session.scalar(select(func.count()).select_from(LostPupil)) == 5
        monitored = session.scalar(
            select(func.count()).select_from(Monitoring).where(Monitoring.status == "active")
        )
        assert monitored == 3
        pending = set(session.scalars(select(Proposal.kind).where(Proposal.status == "pending")))
        assert pending == {"reply", "case_update"}
        in_flight = session.scalar(
            select(func.count())
            .select_from(ExchangeMessage)
            .where(ExchangeMessage.direction == "out", ExchangeMessage.status == "queued")
        )
        assert (in_flight or 0) >= 1

        # A term of history: cases opened and closed week by week over 14 weeks.
        today = utcnow().date()
        term_start = today - timedelta(weeks=15)
        opened = {c.isocalendar()[:2] for c in session.scalars(select(Case.opened_on))}
        closed = {
            c.date().isocalendar()[:2]
            for c in session.scalars(select(Case.closed_at).where(Case.closed_at.is_not(None)))
            if c is not None
        }
        assert len(opened) >= 12 and len(closed) >= 10
        assert min(session.scalars(select(Case.opened_on))) >= term_start
        assert session.scalar(select(func.min(TimelineEntry.at))).date() >= term_start  # type: ignore[union-attr]
        # The reports' figures never see a case closed before it opened.
        for case in session.scalars(select(Case).where(Case.closed_at.is_not(None))):
            assert case.closed_at.date() >= case.opened_on  # type: ignore[union-attr]

        demo_users = {u.username: u for u in session.scalars(select(User))}
        for username, _password in found.values():
            assert demo_users[username].totp_secret is None  # password only

    _signs_in_and_sees_the_banner(found)


def _signs_in_and_sees_the_banner(found: dict[str, tuple[str, str]]) -> None:
    from tests.web.conftest import WebClient
    from web.app import create_app
    from web.server import close_app

    app = create_app(load_settings())
    app.config["TESTING"] = True
    try:
        for role, (username, password) in found.items():
            client = WebClient(app)
            assert BANNER in client.get("/sign-in").text("//*[@id='demo-banner']")
            landed = client.sign_in(username, password)
            assert landed.response.headers["Location"].endswith("/")
            home = client.get("/")
            assert BANNER in home.text("//*[@id='demo-banner']")
            assert home.text("//*[@data-testid='signed-in-as']").endswith(f"({role})")
    finally:
        close_app(app)


def test_a_home_with_cases_is_refused_in_one_line_and_nothing_changes(
    cme_home: Path, cli: CliCall
) -> None:
    data = build_referral_input(
        {"forename": "Real", "surname": "Casework", "dob": "2015-04-03", "postcode": "TS10 1AA"},
        today=utcnow().date(),
    )
    with unit_of_work() as (s, session):
        log_referral(session, s, data, "tester")
    with unit_of_work() as (_s, session):
        before = (
            session.scalar(select(func.count()).select_from(Case)),
            sorted(session.scalars(select(User.username))),
        )
    result = _demo(cli)
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "1 case:" in errors[0] and "--force" in errors[0], result.output
    assert not sign_ins(result)
    assert not is_demo_home(cme_home)
    assert not (cme_home / "keys" / "exchange.key").exists()
    with unit_of_work() as (_s, session):
        after = (
            session.scalar(select(func.count()).select_from(Case)),
            sorted(session.scalars(select(User.username))),
        )
    assert after == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_force_on_a_demo_home_loads_it_again_with_new_passwords(
    cme_home: Path, cli: CliCall
) -> None:
    first = _demo(cli)
    assert first.exit_code == 0, first.output
    with unit_of_work() as (_s, session):
        cases = session.scalar(select(func.count()).select_from(Case))
    again = _demo(cli)
    assert again.exit_code != 0 and "--force" in again.output
    forced = _demo(cli, "--force")
    assert forced.exit_code == 0, forced.output
    old, new = sign_ins(first), sign_ins(forced)
    assert {r: u for r, (u, _p) in old.items()} == {r: u for r, (u, _p) in new.items()}
    assert all(old[r][1] != new[r][1] for r in old)
    mark = read_mark(cme_home)
    assert mark is not None and mark.loads == 2
    with unit_of_work() as (_s, session):
        assert session.scalar(select(func.count()).select_from(Case)) == 2 * cases  # type: ignore[operator]
    _signs_in_and_sees_the_banner(new)


# ---- `cme run`: what a newcomer sees ---------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_welcome_says_how_to_sign_in_or_load_the_demo(cme_home: Path) -> None:
    from gateway.home import open_engine
    from gateway.welcome import welcome_lines

    settings = load_settings()
    engine = open_engine(settings)
    text = "\n".join(welcome_lines(settings, engine, log_file=cme_home / "cme.log"))
    assert "CME Gateway is running at http://127.0.0.1:8000" in text
    assert "cme demo` to load invented data" in text and "users add" in text
    CliCall.add_user("olivia")
    text = "\n".join(welcome_lines(settings, engine, log_file=None))
    assert "Sign in with your username and password." in text and "cme demo" not in text
    write_mark(cme_home, loads=1, at=utcnow(), usernames=("demo.officer", "demo.manager"))
    text = "\n".join(welcome_lines(settings, engine, log_file=None))
    assert "demo.officer or demo.manager" in text and "users add" not in text


def test_cme_run_prints_a_few_lines_a_person_reads(tmp_path: Path) -> None:
    web_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    env.update(
        CME_HOME=str(tmp_path / "home"),
        CME_WEB_PORT=str(web_port),
        CME_SMTP_PORT=str(smtp_port),
        CME_JOBS_POLL_SECONDS="0.2",
    )
    cme = str(Path(sys.executable).parent / "cme")
    proc = subprocess.Popen(
        [cme, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # blocks until the next line: no timing involved
            lines.append(line.rstrip("\n"))
            if line.strip().startswith("Log:"):
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert lines[0] == f"CME Gateway is running at http://127.0.0.1:{web_port}"
    assert any("No users yet" in line and "cme demo" in line for line in lines)
    assert len(lines) <= 6 and not rest.strip()
    # Library and service logging goes to the file, with its structured fields; the
    # terminal shows no INFO records.
    assert " INFO " not in err and "alembic" not in err, err
    log = (tmp_path / "home" / "cme.log").read_text("utf-8")
    assert "web console listening" in log and f'"port": {web_port}' in log

"""No child data where it should not be.

The intake (a real SMTP listener, smtplib as the referrer's mail server), the outbox (a
real relay), the secure exchange (two instances, over HTTPS and over mail), the console
(every page, through the Flask test client) and the caseload report run with invented,
distinctive names, logging to files at DEBUG as `cme run` does. Then every log file, every
outbound email's headers and subject, every URL the console was asked for (and every
redirect's Location), the console's session cookies and the process's environment are
searched for the names: none may appear. Log lines carry case ids instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import gateway.intake.dispatch  # noqa: F401 (registers the dispatch job, as `cme run` does)
from gateway import jobs, logs, outbox
from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.db import make_engine, session_scope
from gateway.exchange import service, working
from gateway.exchange.outbound import deliver_due
from gateway.exchange.partners import add_partner
from gateway.exchange.records import Channel
from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.models.case import Case
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings, load_settings
from gateway.totp import TotpVault
from gateway.users import Role, add_user
from tests.conftest import CliCall
from tests.gateway.exchange.instances import (
    Instance,
    env_for,
    make_instance,
    running,
    serve,
    tls_files,
)
from tests.support.leaks import found_in, name_parts

#: Invented and distinctive: a hit for any of them is a leak, never a coincidence.
CHILD = ("Xanthippe", "Oddlebury")
OTHER_CHILD = ("Zanzibarina", "Quillfeather")
CARER = "Hermengild Oddlebury"
SIBLING = "Perpetua Oddlebury"
REFERRER = "Barnabus Wetherspoonington"
NAMES = name_parts([*CHILD, *OTHER_CHILD, CARER, SIBLING, REFERRER])
#: A letter to the referrer is addressed to their own mailbox (barnabus.w@...): that one
#: part may be in a To header; their name, and the children's and family's, never.
HEADER_NAMES = NAMES - {"barnabus"}
INBOX = "cme@redcar-cleveland.example"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def db_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """Where names leak does not depend on the engine."""
    target = tmp_path / "cme.db"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


class Relay:
    """The council's smarthost: a real SMTP server on loopback that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[Relay, str]]:
    box = Relay()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture
def logged_home(
    cme_home: Path, relay: tuple[Relay, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The data home's settings, with the process logging to $CME_HOME/cme.log at DEBUG (the
    most it ever writes), as `cme run` sets it up; the test's own handlers come back after."""
    monkeypatch.setenv("CME_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CME_SMTP_RELAY", relay[1])
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    settings = load_settings()
    logs.configure(settings)
    try:
        yield settings
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class Seen:
    """Everything that must never hold a child's name, collected as the scenarios run."""

    urls: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    #: Bodies that must not name a child: letters to referrers and notices to the officer
    #: (plain email, forwardable), and sealed exchange mail (nothing in clear at all).
    bodies: list[str] = field(default_factory=list)

    def mail(self, raw: bytes, where: str, kind: str | None = None) -> None:
        msg = message_from_bytes(raw)
        for name, value in msg.items():
            self.headers.append(f"{where}: {name}: {value}")
        # Onward referrals are the exception: they carry the child's details to a team, by
        # design, recorded in the disclosure register.
        if kind is None or not kind.startswith("onward_"):
            texts = [
                part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
                for part in msg.walk()
                if part.get_content_maintype() == "text"
            ]
            self.bodies.append(f"{where}: {' '.join(texts)} {raw.decode('utf-8', 'replace')}")


def _referral_mail(subject: str, body: str, message_id: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{REFERRER} <barnabus.w@school-807.example>"
    msg["To"] = INBOX
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _send(settings: Settings, engine: Engine, messages: list[EmailMessage]) -> None:
    """Send through a real listener with smtplib; the listener answered 250 once the bytes
    were durable, and closing the store waits for their rows."""
    store = RawStore(settings.home, engine)
    listener = SmtpListener(settings, store, port=0)
    host, port = listener.start()
    try:
        with smtplib.SMTP(host, port) as client:
            for msg in messages:
                client.send_message(msg)
    finally:
        listener.stop(grace=1)
        store.close()


def _intake(settings: Settings, engine: Engine, seen: Seen) -> int:
    """Referrals, a reply and a held message arrive over SMTP and are dispatched."""
    forename, surname = CHILD
    referral = _referral_mail(
        # A referrer may well name the child in the subject: we must not repeat it.
        f"CME referral: {forename} {surname}",
        f"Child: {forename} {surname}\nDate of birth: 03/04/2015\n"
        f"Address: 4 Invented Terrace, Redcar\nPostcode: TS10 1AA\n"
        f"Parent: {CARER} (mother)\nSibling: {SIBLING}\n"
        f"Reason: moved, no forwarding address\n\n{REFERRER}\nHead teacher\n",
        "<leak-referral-1@school-807.example>",
    )
    held = _referral_mail(
        f"Photos of {forename} {surname}", "See attached.", "<leak-held@school-807.example>"
    )
    held.add_attachment(
        b"MZ\x90\x00synthetic", maintype="application", subtype="octet-stream",
        filename=f"{surname}.exe",
    )  # fmt: skip
    _send(settings, engine, [referral, held])
    jobs.drain(engine, settings)
    with session_scope(engine) as s:
        case_id = s.execute(select(Case.id).order_by(Case.id)).scalars().first()
        if case_id is None:  # not complete enough to open at once: an officer opens it
            from gateway.triage import service as triage

            first = s.execute(select(Referral.id).order_by(Referral.id)).scalars().first()
            assert first is not None, "the referral did not arrive"
            case_id = triage.open_case(s, settings, first, "mary").id
        letters = list(s.execute(select(OutboxMessage.message_id)).scalars())
    reply = _referral_mail(
        f"Re: [CME-{case_id}] about {forename}",
        f"{forename} {surname} is at Synthetic Primary now.\n",
        "<leak-reply@school-807.example>",
        In_Reply_To=letters[0] if letters else "<none@school-807.example>",
    )
    _send(settings, engine, [reply])
    jobs.drain(engine, settings)
    outbox.send_due(engine, settings)
    with Session(engine) as s:
        for row in s.execute(select(OutboxMessage)).scalars():
            seen.mail(row.raw, f"outbox {row.id} ({row.kind})", row.kind)
    return case_id


def _exchange(tmp_path: Path, relay: tuple[Relay, str], seen: Seen) -> None:
    """LA 807 asks LA 806 about a child over HTTPS and by mail; 806 answers."""
    box, address = relay
    tls = tls_files(tmp_path)
    pair: list[Instance] = []
    for la in ("807", "806"):
        url = f"sqlite:///{tmp_path / f'la{la}.db'}"
        env = env_for(la, tmp_path / "x" / f"home{la}", url, address)
        pair.append(make_instance(la, tmp_path / "x", url, env))
    a, b = pair
    with running(a, b):
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other in ((a, b), (b, a)):
            with session_scope(me.engine) as s:
                add_partner(
                    s, me.settings, la_code=other.la, name=f"Test LA {other.la}",
                    email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(), url=other.url,
                )  # fmt: skip
        forename, surname = OTHER_CHILD
        data = build_referral_input(
            {"forename": forename, "surname": surname, "dob": "2014-05-06", "sex": "F",
             "upn": "R807300024001", "address_line1": "1 Imaginary Row", "town": "Redcar",
             "postcode": "TS10 1AA", "reason": "moved, destination unknown",
             "channel": "other_la"},
            today=date.today(),
        )  # fmt: skip
        with session_scope(a.engine) as s:
            case_id = log_referral(s, a.settings, data, "test:officer").id
        with session_scope(a.engine) as s:
            working.send_enquiry(s, a.settings, case_id, "806", "test:officer", note=surname)
            working.send_enquiry(
                s, a.settings, case_id, "806", "test:officer", channel=Channel.MAIL
            )
        deliver_due(a.engine, a.settings)
        outbox.send_due(a.engine, a.settings)
        sealed = [mail for mail in box.messages if service.is_smime(mail)]
        assert sealed, "the enquiry by mail was not sent"
        for mail in sealed:
            with session_scope(b.engine) as s:
                service.handle_inbound_mail(s, b.settings, mail)
        with session_scope(b.engine) as s:
            proposals = working.pending(s)
            assert len(proposals) == 2, "806 did not receive both enquiries"
            for proposal in proposals:
                working.approve(s, b.settings, proposal.id, "test:806-officer")
        assert deliver_due(b.engine, b.settings).delivered >= 1
        outbox.send_due(b.engine, b.settings)
        for inst in (a, b):
            with Session(inst.engine) as s:
                for row in s.execute(select(OutboxMessage)).scalars():
                    seen.mail(row.raw, f"LA {inst.la} outbox {row.id} ({row.kind})", row.kind)


class Recorder:
    """The console through Flask's test client: every URL asked for, every redirect's
    target and every session cookie set, recorded."""

    def __init__(self, app: Flask, seen: Seen) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.seen = seen

    def _record(self, resp: Any) -> None:
        location = resp.headers.get("Location")
        if location:
            self.seen.urls.append(location)
        for cookie in resp.headers.getlist("Set-Cookie"):
            self.seen.cookies.append(cookie)
            name, _, rest = cookie.partition("=")
            if name == self.app.config["SESSION_COOKIE_NAME"]:
                value = rest.partition(";")[0]
                if value:
                    serializer = self.app.session_interface.get_signing_serializer(self.app)  # type: ignore[attr-defined]
                    self.seen.cookies.append(repr(serializer.loads(value)))

    def get(self, url: str) -> Any:
        self.seen.urls.append(url)
        resp = self.client.get(url)
        self._record(resp)
        assert resp.status_code < 500, (url, resp.status_code)
        return resp

    def post(self, url: str, data: dict[str, str]) -> Any:
        self.seen.urls.append(url)
        with self.client.session_transaction() as sess:
            token = sess.get("csrf")
        if token is None:
            self.get("/refer")
            with self.client.session_transaction() as sess:
                token = sess.get("csrf")
        resp = self.client.post(url, data={**data, "csrf_token": str(token)})
        self._record(resp)
        assert resp.status_code < 500, (url, resp.status_code)
        return resp


def _console(settings: Settings, engine: Engine, case_id: int, seen: Seen) -> None:
    from web.app import create_app
    from web.server import close_app

    with session_scope(engine) as s:
        for name, role in (("mary", Role.MANAGER), ("olivia", Role.OFFICER)):
            add_user(
                s, username=name, password=PASSWORD, role=role, display_name=name.title(),
                totp=False, actor="test", vault=TotpVault.load(settings.keys_dir),
            )  # fmt: skip
        referral_ids = list(s.execute(select(Referral.id)).scalars())
    app = create_app(settings, engine)
    try:
        web = Recorder(app, seen)
        web.get("/sign-in")
        web.post("/sign-in", {"username": "mary", "password": PASSWORD})
        # Every page with no parameters or only a case number, and the record pages.
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
                continue
            if rule.endpoint.split(".")[0] in ("exchange", "school_upload", "health"):
                continue
            args = set(rule.arguments)
            if args <= {"case_id"}:
                web.get(rule.rule.replace("<int:case_id>", str(case_id)))
        for rid in referral_ids:
            web.get(f"/triage/{rid}")
        forename, surname = CHILD
        web.post("/lost-pupils", {"surname": surname, "forename": forename})
        web.post(f"/cases/{case_id}/child", {
            "forename": forename, "surname": surname, "middle_names": "Oddlebury-Ann",
            "dob-day": "3", "dob-month": "4", "dob-year": "2015",
        })  # fmt: skip
        web.get(f"/cases/{case_id}")
        web.get("/audit/user/mary")
        web.post(f"/cases/{case_id}/subject-access", {"reference": "SAR-1"})
        web.post("/sign-out", {})
    finally:
        close_app(app)


def test_no_child_data_in_logs_mail_headers_urls_cookies_or_environment(
    logged_home: Settings, relay: tuple[Relay, str], cli: CliCall, tmp_path: Path
) -> None:
    settings = logged_home
    engine = make_engine(str(settings.core.database_url))
    seen = Seen()
    try:
        case_id = _intake(settings, engine, seen)
        _exchange(tmp_path, relay, seen)
        _console(settings, engine, case_id, seen)
    finally:
        engine.dispose()
    cli.add_user("rita", "manager")
    report = cli("report", "caseload", as_user="rita")
    assert report.exit_code == 0, report.output
    # The report itself is for officers and managers: it names children, as it should.
    assert CHILD[1].lower() in report.output.lower()
    for mail in relay[0].messages:
        seen.mail(mail, "relay")
    for handler in logging.getLogger().handlers:
        handler.flush()

    leaks: list[str] = []
    log_files = sorted(p for p in tmp_path.rglob("*.log*") if p.is_file())
    assert log_files, "the scenarios wrote no log file"
    lines = 0
    for path in log_files:
        for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
            lines += 1
            if found := found_in(line, NAMES):
                leaks.append(f"{path.name}:{number}: {found}: {line[:300]}")
    assert lines > 50, "the log file holds almost nothing: is logging set up?"
    text = "\n".join(p.read_text("utf-8", "replace") for p in log_files)
    assert f'"case_id": {case_id}' in text, "log lines name the case by its id"
    assert seen.headers and any("Subject" in h for h in seen.headers)
    leaks += [f"mail header: {h}" for h in seen.headers if found_in(h, HEADER_NAMES)]
    # A letter greets the referrer by their own name; it never names a child or the family.
    family = name_parts([*CHILD, *OTHER_CHILD, CARER, SIBLING])
    leaks += [f"mail body: {b[:200]!r}" for b in seen.bodies if found_in(b, family)]
    assert len(seen.urls) > 40
    leaks += [f"URL: {u}" for u in seen.urls if found_in(u, NAMES)]
    leaks += [f"cookie: {c}" for c in seen.cookies if found_in(c, NAMES)]
    leaks += [f"environment: {k}" for k, v in os.environ.items() if found_in(f"{k}={v}", NAMES)]
    assert not leaks, "child data where it should not be:\n" + "\n".join(leaks)


def test_a_logged_exception_keeps_its_type_and_frames_but_not_its_message(
    logged_home: Settings,
) -> None:
    """Whatever an exception's text quotes (a statement's values, a line of a referral), a
    traceback in the log file has only the exception's type."""
    log = logging.getLogger("gateway.jobs")
    try:
        try:
            raise KeyError(f"{CHILD[0]} {CHILD[1]}")
        except KeyError as exc:
            raise ValueError(f"could not read {CARER}") from exc
    except ValueError:
        log.exception("periodic task failed", extra={"task": "test", "case_id": 7})
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (logged_home.home / logs.LOG_FILE).read_text("utf-8")
    assert "periodic task failed" in text and '"case_id": 7' in text
    assert "KeyError (message withheld" in text and "ValueError (message withheld" in text
    assert "direct cause" in text and "test_no_child_data_leaks.py" in text
    assert not found_in(text, NAMES), text

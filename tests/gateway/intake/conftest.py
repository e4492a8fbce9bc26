"""Intake fixtures: settings on a temp home, a raw store, a live SMTP listener, a Dovecot."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine

from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.settings import Settings, load_settings
from tests.support.dovecot import Dovecot, Unavailable, start_dovecot

INBOX = "cme@redcar-cleveland.example"


@pytest.fixture
def intake_settings(tmp_path: Path) -> Settings:
    return load_settings({"CME_HOME": str(tmp_path / "home")})


@pytest.fixture
def store(intake_settings: Settings, engine: Engine) -> Iterator[RawStore]:
    s = RawStore(intake_settings.home, engine)
    yield s
    s.close()


@pytest.fixture
def smtp_server(
    intake_settings: Settings, store: RawStore
) -> Iterator[tuple[str, int, SmtpListener]]:
    s = dataclasses.replace(
        intake_settings,
        smtp=dataclasses.replace(intake_settings.smtp, max_message_size=200_000),
    )
    listener = SmtpListener(s, store, port=0)
    host, port = listener.start()
    yield host, port, listener
    listener.stop(grace=1)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    try:
        server = start_dovecot()
    except Unavailable as exc:
        pytest.fail(f"Dovecot is needed for the IMAP tests: {exc}")
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[IMAPClient]:
    """A signed-in client on the Dovecot, every folder emptied first."""
    client = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    client.login(dovecot.user, dovecot.password)
    for folder in ("INBOX", "Processed", "Quarantine"):
        if client.folder_exists(folder):
            client.select_folder(folder)
            uids = client.search()
            if uids:
                client.delete_messages(uids)
                client.expunge()
    yield client
    client.logout()

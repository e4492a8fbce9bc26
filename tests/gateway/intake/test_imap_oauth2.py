"""XOAUTH2 sign-in (as Microsoft 365 requires) against a real Dovecot that checks each bearer
token at a token-introspection endpoint (RFC 7662) served here on loopback."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy import Engine

from gateway.intake.imap import ImapConfigError, ImapPoller
from gateway.intake.rawstore import RawStore
from gateway.settings import Settings
from tests.fixtures import mail
from tests.support.dovecot import Dovecot, Unavailable, start_dovecot

LIVE_TOKEN = "synthetic-token-2"  # made up, for a throwaway server


class Introspection(BaseHTTPRequestHandler):
    """Says one token is live and belongs to the mailbox user; every other token is not."""

    checked: ClassVar[list[str]] = []  # the tokens Dovecot asked about, in order

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        token = parse_qs(body).get("token", [""])[0]
        self.checked.append(token)
        answer = {"active": True, "username": "cme"} if token == LIVE_TOKEN else {"active": False}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def oauth_dovecot() -> Iterator[Dovecot]:
    Introspection.checked.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/introspect"
    try:
        dovecot = start_dovecot(oauth2_introspection_url=url)
    except Unavailable as exc:
        pytest.fail(f"Dovecot is needed for the IMAP tests: {exc}")
    yield dovecot
    dovecot.stop()
    server.shutdown()


def test_xoauth2_token_file_is_read_afresh_at_each_connection(
    intake_settings: Settings, oauth_dovecot: Dovecot, engine: Engine, store: RawStore,
    tmp_path: Path,
) -> None:  # fmt: skip
    token_file = tmp_path / "imap-token"
    settings = dataclasses.replace(
        intake_settings,
        imap=dataclasses.replace(
            intake_settings.imap, enabled=True, host="127.0.0.1", port=oauth_dovecot.port,
            ssl=False, user=oauth_dovecot.user, password="", oauth2_token_file=str(token_file),
        ),
    )  # fmt: skip
    poller = ImapPoller(settings, engine, store)
    with pytest.raises(ImapConfigError, match="oauth2_token_file"):
        poller.connect()  # no token yet: says which setting to fix
    token_file.write_text("synthetic-token-1\n")  # expired: the server refuses it
    with pytest.raises(LoginError):
        poller.connect()
    token_file.write_text(LIVE_TOKEN + "\n")  # the refresher has renewed it
    with IMAPClient("127.0.0.1", port=oauth_dovecot.port, ssl=False) as client:
        client.oauth2_login(oauth_dovecot.user, LIVE_TOKEN)
        client.append("INBOX", mail.referral(5))
    report = poller.poll_once()
    poller.disconnect()
    assert (report.fetched, report.stored) == (1, 1)
    assert Introspection.checked == ["synthetic-token-1", LIVE_TOKEN, LIVE_TOKEN]

"""The SMTP listener, against smtplib and swaks as real clients."""

from __future__ import annotations

import dataclasses
import shutil
import smtplib
import ssl
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.models.intake import RawMessage
from gateway.settings import Settings
from tests.fixtures import mail

INBOX = mail.INBOX


def _stored(engine: Engine, store: RawStore) -> list[bytes]:
    # The 250 comes once the bytes are fsync'd; the row follows. close() drains the indexer.
    store.close()
    with Session(engine) as s:
        rows = s.execute(select(RawMessage).order_by(RawMessage.id)).scalars().all()
        return [store.read(r) for r in rows]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key made with the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_accepts_for_our_inbox_and_stores_before_250(
    smtp_server: tuple[str, int, SmtpListener], store: RawStore, engine: Engine
) -> None:
    host, port, _ = smtp_server
    data = mail.referral(1)
    with smtplib.SMTP(host, port) as client:
        code, _ = client.ehlo()
        assert code == 250
        assert client.has_extn("smtputf8") and client.has_extn("8bitmime")
        assert client.sendmail("a@school-807.example", [INBOX], data) == {}
    assert _stored(engine, store) == [data]


def test_unknown_recipient_is_550_and_oversize_is_552(
    smtp_server: tuple[str, int, SmtpListener], store: RawStore, engine: Engine
) -> None:
    host, port, _ = smtp_server
    with smtplib.SMTP(host, port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@x.example", ["someone@redcar-cleveland.example"], b"x\r\n")
        assert refused.value.recipients["someone@redcar-cleveland.example"][0] == 550
        client.rset()
        with pytest.raises(smtplib.SMTPResponseException) as big:
            client.sendmail("a@x.example", [INBOX], mail.referral(2, size=300_000))
        assert big.value.smtp_code == 552
        # Undeclared size: refused after DATA, also 552.
        client.rset()
        client.mail("a@x.example")
        client.rcpt(INBOX)
        code, _ = client.data(mail.referral(3, size=300_000))
        assert code == 552
    assert _stored(engine, store) == []


def test_long_lines_and_bare_lf_bodies_are_accepted_byte_for_byte(
    smtp_server: tuple[str, int, SmtpListener], store: RawStore, engine: Engine
) -> None:
    host, port, _ = smtp_server
    scan = b"From: scanner@school-806.example\nSubject: scan\n\n" + b"A" * 20_000 + b"\n"
    long_line = b"From: a@x.example\r\nSubject: long\r\n\r\n" + b"B" * 5000 + b"\r\n"
    with smtplib.SMTP(host, port) as client:
        client.sendmail("scanner@school-806.example", [INBOX], scan)
        client.sendmail("a@x.example", [INBOX], long_line)
    stored = _stored(engine, store)
    assert stored[1] == long_line
    assert stored[0] == scan + b"\r\n"  # as sent: smtplib adds the final CRLF before "."


def test_internal_failure_answers_451_so_the_sender_retries(
    smtp_server: tuple[str, int, SmtpListener], store: RawStore
) -> None:
    host, port, _ = smtp_server
    store.close()  # every store now fails
    with smtplib.SMTP(host, port) as client, pytest.raises(smtplib.SMTPDataError) as err:
        client.sendmail("a@x.example", [INBOX], mail.referral(1))
    assert err.value.smtp_code == 451


def test_swaks_as_an_independent_client_with_an_attachment(
    smtp_server: tuple[str, int, SmtpListener], store: RawStore, engine: Engine, tmp_path: Path
) -> None:
    if shutil.which("swaks") is None:
        subprocess.run(["bash", "scripts/intake-deps.sh"], check=True)
    host, port, _ = smtp_server
    form = tmp_path / "form.txt"
    form.write_text("Referral form for a synthetic child\n")
    result = subprocess.run(
        ["swaks", "--server", host, "--port", str(port), "--to", INBOX,
         "--from", "office@school-805.example", "--attach", f"@{form}", "--silent", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (data,) = _stored(engine, store)
    assert b"form.txt" in data


def test_per_peer_connection_and_rate_limits(intake_settings: Settings, store: RawStore) -> None:
    s = dataclasses.replace(
        intake_settings,
        smtp=dataclasses.replace(
            intake_settings.smtp, max_connections_per_peer=2, max_messages_per_minute_per_peer=3
        ),
    )
    listener = SmtpListener(s, store, port=0)
    host, port = listener.start()
    try:
        a, b = smtplib.SMTP(host, port), smtplib.SMTP(host, port)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP(host, port)
        assert refused.value.smtp_code == 421
        for n in range(3):
            a.sendmail("a@x.example", [INBOX], mail.referral(n))
        with pytest.raises(smtplib.SMTPSenderRefused) as slow:
            a.sendmail("a@x.example", [INBOX], mail.referral(9))
        assert slow.value.smtp_code == 450
        a.quit()
        b.quit()
    finally:
        listener.stop(grace=1)


def test_starttls_required_when_configured(
    intake_settings: Settings, store: RawStore, tmp_path: Path, engine: Engine
) -> None:
    cert, key = _self_signed(tmp_path)
    s = dataclasses.replace(
        intake_settings,
        smtp=dataclasses.replace(
            intake_settings.smtp, require_starttls=True, tls_cert=str(cert), tls_key=str(key)
        ),
    )
    listener = SmtpListener(s, store, port=0)
    host, port = listener.start()
    try:
        with smtplib.SMTP(host, port) as plain:
            code, _ = plain.mail("a@x.example")
            assert code == 530
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with smtplib.SMTP(host, port) as client:
            client.starttls(context=context)
            assert client.sendmail("a@x.example", [INBOX], mail.referral(1)) == {}
    finally:
        listener.stop(grace=1)
    assert _stored(engine, store) == [mail.referral(1)]


def test_auth_is_offered_only_over_tls_and_checked_against_argon2_hashes(
    intake_settings: Settings, store: RawStore, tmp_path: Path, engine: Engine
) -> None:
    from argon2 import PasswordHasher

    cert, key = _self_signed(tmp_path)
    users = tmp_path / "smtp-users"
    users.write_text(f"# relay accounts\nrelay:{PasswordHasher().hash('relay-secret')}\n")
    s = dataclasses.replace(
        intake_settings,
        smtp=dataclasses.replace(
            intake_settings.smtp, tls_cert=str(cert), tls_key=str(key), auth_required=True,
            auth_users_file=str(users),
        ),
    )  # fmt: skip
    listener = SmtpListener(s, store, port=0)
    host, port = listener.start()
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    try:
        with smtplib.SMTP(host, port) as plain:
            plain.ehlo()
            assert not plain.has_extn("auth")  # never a password in the clear
            with pytest.raises(smtplib.SMTPNotSupportedError):
                plain.login("relay", "relay-secret")
            assert plain.mail("a@x.example")[0] == 530
        with smtplib.SMTP(host, port) as client:
            client.starttls(context=context)
            client.ehlo()
            assert client.has_extn("auth")
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("relay", "wrong")
        with smtplib.SMTP(host, port) as client:
            client.starttls(context=context)
            client.login("relay", "relay-secret")
            assert client.sendmail("a@x.example", [INBOX], mail.referral(2)) == {}
    finally:
        listener.stop(grace=1)
    assert _stored(engine, store) == [mail.referral(2)]

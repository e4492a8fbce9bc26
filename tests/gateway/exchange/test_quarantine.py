"""The exchange quarantine keeps a bounded record of what no pinned partner signed."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from gateway.db import alembic_config, make_engine, migrate, session_scope
from gateway.exchange import inbound, service
from gateway.exchange.envelope import seal
from gateway.exchange.keys import Identity, init_keys, load_identity
from gateway.exchange.partners import add_partner
from gateway.exchange.records import Channel, Verdict
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.exchange import QuarantinedMessage
from gateway.models.intake import IntakeChannel
from gateway.settings import Settings, load_settings
from parsers.exchange import DocType, Document, Header, Pupil, render_document
from tests.gateway.exchange.conftest import make_identity


def _set_up(partner: Identity) -> tuple[Settings, Engine]:
    settings = load_settings()
    init_keys(settings.keys_dir, la_code="807", la_name="Redcar and Cleveland",
              email="cme@redcar-cleveland.example")  # fmt: skip
    engine = make_engine(settings.core.database_url)
    with session_scope(engine) as s:
        add_partner(
            s, settings, la_code="806", name="Test LA 806", email="cme@la806.example",
            cert_bytes=partner.certificate.public_bytes(serialization.Encoding.PEM),
        )  # fmt: skip
    return settings, engine


def _mail(der: bytes) -> bytes:
    head = (
        "From: cme@la806.example\r\nTo: cme@redcar-cleveland.example\r\n"
        "Subject: CME secure exchange\r\nMessage-ID: <q-1@la806.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + base64.encodebytes(der).replace(b"\n", b"\r\n")


def test_a_refused_mail_points_at_the_raw_store(cme_home: Path) -> None:
    partner = make_identity("806")
    settings, engine = _set_up(partner)
    header = Header("6b1f1d5e-0000-4000-8000-000000000002", "806", "808",
                    datetime.now(UTC).replace(microsecond=0))  # fmt: skip
    doc = Document(DocType.ENQUIRY, header, case_ref="CME-1", lawful_basis="test",
                   pupil=Pupil("Testington", "Amelia"))  # fmt: skip
    ours = load_identity(settings.keys_dir).certificate
    signed = _mail(seal(render_document(doc), "x", sender=partner, recipient=ours).der)
    garbage = _mail(b"\x30\x03\x02\x01\x00" + b"\x00" * 5000)
    store = RawStore(settings.home, engine)
    try:
        ids = [
            store.store(m, Arrival(IntakeChannel.SMTP, peer="203.0.113.5")).raw_id
            for m in (signed, garbage)
        ]
    finally:
        store.close()
    with session_scope(engine) as s:
        for m in (signed, garbage):
            assert service.handle_inbound_mail(s, settings, m).verdict is Verdict.REFUSED
    with Session(engine) as s:
        rows = list(s.execute(select(QuarantinedMessage).order_by(QuarantinedMessage.id)).scalars())
    assert [(r.raw, r.raw_ref, r.peer, r.channel) for r in rows] == [
        (None, f"raw:{ids[0]}", "203.0.113.5", "mail"),
        (None, f"raw:{ids[1]}", "203.0.113.5", "mail"),
    ]
    assert [r.signer_la for r in rows] == ["806", None]
    assert [r.size for r in rows] == [len(signed), len(garbage)]
    engine.dispose()


def test_without_a_pinned_signer_nothing_is_kept_whole(session: Session) -> None:
    body = b"\xff" * 10_000
    inbound.quarantine(session, Channel.HTTPS, body, "x" * 5000, peer="192.0.2.1")
    inbound.quarantine(session, Channel.HTTPS, body, "signed", signer_la="806")
    anonymous, signed = session.execute(
        select(QuarantinedMessage).order_by(QuarantinedMessage.id)
    ).scalars()
    assert anonymous.raw is None and len(anonymous.prefix) == inbound.PREFIX_BYTES
    assert len(anonymous.reason) == 500  # our own words, bounded too
    assert signed.raw == body and signed.kept_whole


def test_rows_from_before_the_change_stay_readable(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.downgrade(alembic_config(engine), "exchange_quarantine_bounded@-1")
        old = b"\x30\x82" + b"\x01" * 1000
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO exchange_quarantine (at, channel, reason, raw, sha256) "
                    "VALUES (:at, 'https', 'an old refusal', :raw, :sha)"
                ),
                {"at": datetime.now(UTC), "raw": old, "sha": hashlib.sha256(old).hexdigest()},
            )
        migrate(engine)
        with Session(engine) as s:
            row = s.execute(select(QuarantinedMessage)).scalar_one()
        assert (row.raw, row.size, row.prefix) == (old, len(old), old[:256])
        assert row.kept_whole and row.signer_la is None
    finally:
        engine.dispose()

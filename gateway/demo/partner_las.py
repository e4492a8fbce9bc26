"""Two invented partner LAs for the demo: identities made like `cme keys init`'s, pinned
with `add_partner`, and their answers sealed as they would seal them and taken in through
the real inbound path (signature checked against the pin, decrypted, proposed to us).

The partners' private keys live only while the demo loads: nobody can send as them later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.exchange.envelope import seal
from gateway.exchange.errors import ExchangeError
from gateway.exchange.keys import Identity, init_keys, load_identity, new_key, self_signed
from gateway.exchange.partners import add_partner
from gateway.exchange.records import LAWFUL_BASIS, Verdict
from gateway.exchange.service import handle_inbound_https
from gateway.settings import Settings
from parsers.exchange import DocType, Document, Header, Outcome, Pupil, render_document


@dataclass(frozen=True)
class DemoPartner:
    la_code: str
    name: str
    email: str
    identity: Identity


#: Our neighbours as partners (LA codes and names are public; the mailboxes are invented).
PARTNER_LAS = (
    ("806", "Middlesbrough", "cme.lead@middlesbrough-806.example"),
    ("808", "Stockton-on-Tees", "cme.lead@stockton-808.example"),
)


def our_identity(settings: Settings) -> Identity:
    """Our exchange key and certificate: `cme keys init`'s, made now if the home has none."""
    if not (settings.keys_dir / "exchange.key").exists():
        init_keys(
            settings.keys_dir,
            la_code=settings.core.la_code,
            la_name=settings.core.la_name,
            email=settings.outbox.from_address,
        )
    return load_identity(settings.keys_dir)


def pin_partners(session: Session, settings: Settings) -> dict[str, DemoPartner]:
    """A fresh identity for each partner LA, pinned in our directory (re-pinned on a reload)."""
    out: dict[str, DemoPartner] = {}
    for la_code, name, email in PARTNER_LAS:
        if la_code == settings.core.la_code:
            continue
        key = new_key()
        cert = self_signed(key, la_code=la_code, la_name=name, email=email)
        add_partner(
            session,
            settings,
            la_code=la_code,
            name=name,
            email=email,
            cert_bytes=cert.public_bytes(serialization.Encoding.PEM),
        )
        out[la_code] = DemoPartner(la_code, name, email, Identity(cert, key))
    return out


def _header(settings: Settings, partner: DemoPartner, in_reply_to: str | None) -> Header:
    return Header(
        message_id=str(uuid.uuid4()),
        sender_la=partner.la_code,
        recipient_la=settings.core.la_code,
        created_at=utcnow().replace(microsecond=0),
        in_reply_to=in_reply_to,
    )


def _deliver(session: Session, settings: Settings, partner: DemoPartner, doc: Document) -> str:
    """Seal `doc` as the partner would and post it to our own inbound path."""
    ours = load_identity(settings.keys_dir)
    text = f"Secure CME exchange message ({doc.doc_type.value}) from LA {partner.la_code}.\n"
    sealed = seal(render_document(doc), text, sender=partner.identity, recipient=ours.certificate)
    outcome = handle_inbound_https(session, settings, sealed.der, peer="demo")
    if outcome.verdict is not Verdict.ACCEPTED:
        raise ExchangeError(f"the demo's message from LA {partner.la_code} was refused: {outcome}")
    return doc.header.message_id


def reply_from(
    session: Session,
    settings: Settings,
    partner: DemoPartner,
    *,
    enquiry_id: str,
    case_ref: str,
    outcome: Outcome,
    note: str | None = None,
) -> str:
    """The partner's answer to our enquiry: a proposal waiting for our officer."""
    doc = Document(
        DocType.REPLY,
        _header(settings, partner, enquiry_id),
        case_ref=case_ref,
        lawful_basis=LAWFUL_BASIS,
        outcome=outcome,
        note=note,
    )
    return _deliver(session, settings, partner, doc)


def enquiry_from(
    session: Session,
    settings: Settings,
    partner: DemoPartner,
    *,
    their_ref: str,
    pupil: Pupil,
    note: str | None = None,
) -> str:
    """The partner asks about a child: our candidates and a suggested answer, to approve."""
    doc = Document(
        DocType.ENQUIRY,
        _header(settings, partner, None),
        case_ref=their_ref,
        lawful_basis=LAWFUL_BASIS,
        pupil=pupil,
        note=note,
    )
    return _deliver(session, settings, partner, doc)

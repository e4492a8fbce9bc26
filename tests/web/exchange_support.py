"""Partners for the console's exchange tests: our keys, partner LAs, and their messages
arriving through the real inbound path (sealed by the partner, opened and checked by us)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography.hazmat.primitives import serialization

from gateway.exchange import service
from gateway.exchange.envelope import seal
from gateway.exchange.keys import (
    ANCHOR_FILE,
    CERT_FILE,
    KEY_FILE,
    Identity,
    load_identity,
    new_key,
    self_signed,
)
from gateway.exchange.partners import add_partner
from gateway.exchange.records import LAWFUL_BASIS, InboundOutcome, Verdict
from parsers.exchange import (
    Address,
    DocType,
    Document,
    Header,
    Outcome,
    Pupil,
    ReplyStatus,
    render_document,
)
from tests.gateway.exchange.conftest import make_identity, make_issued
from tests.web.conftest import WebEnv

US = "807"


@cache
def our_identity() -> tuple[Identity, bytes]:
    ours, anchor = make_issued(US)
    return ours, anchor.public_bytes(serialization.Encoding.PEM)


def partner_identity(la: str, kind: str = "valid") -> Identity:
    """A partner's identity: `valid`, `expired`, or `soon` (expires in 10 days)."""
    return _identity(la, kind)


@cache
def _identity(la: str, kind: str) -> Identity:
    if kind == "expired":
        return make_identity(la, expired=True)
    if kind == "soon":
        key = new_key()
        cert = self_signed(
            key, la_code=la, la_name=f"Test LA {la}", email=f"cme@la{la}.example", days=10
        )
        return Identity(cert, key)
    return make_identity(la)


def set_up_exchange(web: WebEnv) -> None:
    """Our exchange key, as `cme keys init` leaves it (made once per test run)."""
    identity, anchor = our_identity()
    keys = web.settings.keys_dir
    (keys / KEY_FILE).write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (keys / CERT_FILE).write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
    (keys / ANCHOR_FILE).write_bytes(anchor)


def add(web: WebEnv, la: str, kind: str = "valid", *, url: bool = True) -> Identity:
    """A partner in our directory; with `url` it has an HTTPS endpoint."""
    ident = partner_identity(la, kind)
    with web.session() as s:
        add_partner(
            s, web.settings, la_code=la, name=f"Test LA {la}", email=f"cme@la{la}.example",
            cert_bytes=ident.certificate.public_bytes(serialization.Encoding.PEM),
            url=f"https://la{la}.example/exchange" if url else None,
        )  # fmt: skip
        s.commit()
    return ident


def _header(la: str, in_reply_to: str | None = None) -> Header:
    return Header(
        message_id=str(uuid.uuid4()),
        sender_la=la,
        recipient_la=US,
        created_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
        in_reply_to=in_reply_to,
    )


def arrive(web: WebEnv, la: str, doc: Document) -> InboundOutcome:
    """The partner seals the document for us and posts it; we receive it as POST /exchange."""
    sealed = seal(
        render_document(doc),
        "synthetic test message",
        sender=partner_identity(la),
        recipient=load_identity(web.settings.keys_dir).certificate,
    )
    with web.session() as s:
        outcome = service.handle_inbound_https(s, web.settings, sealed.der, peer="192.0.2.6")
        s.commit()
    assert outcome.verdict is Verdict.ACCEPTED, outcome.detail
    return outcome


def their_enquiry(
    web: WebEnv,
    la: str = "806",
    *,
    pupil: Pupil | None = None,
    note: str | None = "Family thought to have moved to your area in October.",
    doc_type: DocType = DocType.ENQUIRY,
) -> InboundOutcome:
    """Another authority asks us about a child."""
    child = pupil or Pupil(
        "Testington", "Amelia", upn="R807300024001", dob=datetime(2014, 5, 6).date(), sex="F",
        address=Address(("9 Faraway Close", "Middlesbrough"), "TS1 9ZZ"),
    )  # fmt: skip
    doc = Document(
        doc_type, _header(la), case_ref="LA806-CME-55", lawful_basis=LAWFUL_BASIS,
        pupil=child, note=note,
    )  # fmt: skip
    return arrive(web, la, doc)


def their_answer(
    web: WebEnv, la: str, in_reply_to: str, outcome: Outcome, note: str | None = None
) -> InboundOutcome:
    """Another authority answers our enquiry `in_reply_to`."""
    doc = Document(
        DocType.REPLY, _header(la, in_reply_to), case_ref="CME-1", lawful_basis=LAWFUL_BASIS,
        outcome=outcome, note=note,
    )  # fmt: skip
    return arrive(web, la, doc)


ON_ROLL = Outcome(
    ReplyStatus.ON_ROLL,
    laestab="8063001",
    school_name="Example Primary",
    start_date=datetime(2025, 1, 6).date(),
)

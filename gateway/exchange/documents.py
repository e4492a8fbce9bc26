"""Build documents: headers, the readable text part, what a document discloses, its route."""

from __future__ import annotations

import uuid

from gateway.db import utcnow
from gateway.exchange.errors import ExchangeError
from gateway.exchange.partners import Partner
from gateway.exchange.records import Channel
from gateway.models.case import Case
from gateway.settings import Settings
from parsers.exchange import Address, DocType, Document, Header, Pupil


def new_header(settings: Settings, to_la: str, in_reply_to: str | None = None) -> Header:
    return Header(
        message_id=str(uuid.uuid4()),
        sender_la=settings.core.la_code,
        recipient_la=to_la,
        created_at=utcnow().replace(microsecond=0),
        in_reply_to=in_reply_to,
    )


def disclosed_items(doc: Document) -> list[str]:
    items: list[str] = []
    if doc.pupil is not None:
        p = doc.pupil
        items += [name for name, value in (
            ("surname", p.surname), ("forename", p.forename), ("upn", p.upn),
            ("middle_names", p.middle_names), ("former_surname", p.former_surname),
            ("dob", p.dob), ("sex", p.sex), ("address", p.address),
        ) if value]  # fmt: skip
    if doc.outcome is not None:
        items.append(f"outcome:{doc.outcome.status.value}")
        if doc.outcome.address is not None:
            items.append("address")
        if doc.outcome.laestab:
            items.append("school")
    if doc.note:
        items.append("note")
    return items


def delivery_route(partner: Partner, channel: Channel | None = None) -> tuple[Channel, str]:
    """How a document reaches the partner, and where: HTTPS when they run CME Gateway,
    else their CME lead's mailbox (the check-before-you-send page shows the same)."""
    chosen = channel or (Channel.HTTPS if partner.url else Channel.MAIL)
    if chosen is Channel.HTTPS and not partner.url:
        raise ExchangeError(f"LA {partner.la_code} has no HTTPS endpoint; send by mail")
    return chosen, str(partner.url) if chosen is Channel.HTTPS else partner.email


def plain_text(doc: Document, settings: Settings) -> str:
    """The readable part, for a CME lead who opens the message in a mail client."""
    lines = [
        f"Secure CME exchange message ({doc.doc_type.value}) from LA {settings.core.la_code} "
        f"({settings.core.la_name}) to LA {doc.header.recipient_la}.",
        f"Message id: {doc.header.message_id}",
    ]
    if doc.case_ref:
        lines.append(f"Our reference: {doc.case_ref}")
    if doc.pupil is not None:
        p = doc.pupil
        lines += [
            "",
            "Child:",
            f"  Name: {p.forename} {p.surname}",
            f"  Date of birth: {p.dob.isoformat() if p.dob else 'not known'}",
        ]
        if p.upn:
            lines.append(f"  UPN: {p.upn}")
        if p.address is not None:
            lines.append(f"  Address: {', '.join([*p.address.lines, p.address.postcode or ''])}")
    if doc.doc_type is DocType.ENQUIRY:
        lines += [
            "",
            "Is this child on roll at a school in your authority, or known to you?",
            "Reply to this message (signed and encrypted) in your own words if you do not run",
            "CME Gateway; your reply is filed against our case automatically.",
        ]
    if doc.outcome is not None:
        lines += ["", f"Our answer: {doc.outcome.status.value}"]
    if doc.note:
        lines += ["", doc.note]
    if doc.lawful_basis:
        lines += ["", f"Lawful basis: {doc.lawful_basis}"]
    return "\n".join(lines) + "\n"


def pupil_from_case(case: Case) -> Pupil:
    child = case.child
    address = child.current_address
    return Pupil(
        surname=child.surname,
        forename=child.forenames,
        upn=child.upn,
        middle_names=child.middle_names,
        dob=child.dob,
        sex=child.sex if child.sex in {"M", "F", "U"} else None,
        address=Address(
            tuple(x for x in (address.line1, address.line2, address.town) if x),
            address.postcode,
        )
        if address is not None
        else None,
    )

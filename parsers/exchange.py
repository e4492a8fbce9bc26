"""The inter-authority exchange documents: XSD-validated XML to frozen dataclasses and back."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from parsers.errors import ParseError
from parsers.xmlsafe import parse_xml

NS = "urn:cme-gateway:exchange:1"
MAX_DOCUMENT_BYTES = 1024 * 1024
_Q = "{" + NS + "}"


class DocType(enum.StrEnum):
    ENQUIRY = "enquiry"
    REPLY = "reply"
    RECEIPT = "receipt"
    STATUS_REQUEST = "status-request"
    CASE_TRANSFER = "case-transfer"


class ReplyStatus(enum.StrEnum):
    NOT_KNOWN = "not-known"
    ON_ROLL = "on-roll"
    APPLICATION_IN_PROGRESS = "application-in-progress"
    EHE_NOTIFIED = "ehe-notified"
    KNOWN_AT_ADDRESS = "known-at-address"
    MOVED_ON = "moved-on"


class Disposition(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


_OUTCOME_ELEMENTS = {
    ReplyStatus.NOT_KNOWN: "NotKnown",
    ReplyStatus.ON_ROLL: "OnRoll",
    ReplyStatus.APPLICATION_IN_PROGRESS: "ApplicationInProgress",
    ReplyStatus.EHE_NOTIFIED: "EHENotified",
    ReplyStatus.KNOWN_AT_ADDRESS: "KnownAtAddress",
    ReplyStatus.MOVED_ON: "MovedOn",
}
_OUTCOME_BY_ELEMENT = {v: k for k, v in _OUTCOME_ELEMENTS.items()}


@dataclass(frozen=True)
class Header:
    message_id: str
    sender_la: str
    recipient_la: str
    created_at: datetime
    in_reply_to: str | None = None


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...] = ()
    postcode: str | None = None


@dataclass(frozen=True)
class Pupil:
    surname: str
    forename: str
    upn: str | None = None
    middle_names: str | None = None
    former_surname: str | None = None
    dob: date | None = None
    sex: str | None = None
    address: Address | None = None


@dataclass(frozen=True)
class Outcome:
    status: ReplyStatus
    laestab: str | None = None
    school_name: str | None = None
    start_date: date | None = None
    address: Address | None = None
    moved_to_la: str | None = None
    destination: str | None = None


@dataclass(frozen=True)
class Document:
    """One exchange document; which optional parts are set depends on doc_type."""

    doc_type: DocType
    header: Header
    case_ref: str | None = None
    lawful_basis: str | None = None
    pupil: Pupil | None = None
    outcome: Outcome | None = None
    note: str | None = None
    received_sha256: str | None = None
    disposition: Disposition | None = None


@cache
def _schema() -> etree.XMLSchema:
    data = resources.files("parsers").joinpath("schemas", "exchange.xsd").read_bytes()
    return etree.XMLSchema(parse_xml(data, what="exchange schema"))


def _text(el: Any, name: str) -> str | None:
    child = el.find(_Q + name)
    if child is None or child.text is None:
        return None
    return str(child.text)


def _address(el: Any) -> Address | None:
    if el is None:
        return None
    lines_el = el.find(_Q + "AddressLines")
    lines: tuple[str, ...] = ()
    if lines_el is not None:
        lines = tuple(str(c.text) for c in lines_el if c.text)
    return Address(lines, _text(el, "PostCode"))


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_document(data: bytes) -> Document:
    """Read one exchange document, refusing anything the XSD does not allow."""
    root = parse_xml(data, max_bytes=MAX_DOCUMENT_BYTES, what="exchange document")
    schema = _schema()
    if not schema.validate(root):
        err: Any = schema.error_log.last_error  # type: ignore[attr-defined]
        raise ParseError(
            f"the exchange document does not match the schema (line {err.line}): {err.message}"
        )
    doc_type = DocType(etree.QName(root).localname)
    h = root.find(_Q + "Header")
    header = Header(
        message_id=str(_text(h, "MessageID")),
        in_reply_to=_text(h, "InReplyTo"),
        sender_la=str(_text(h, "SenderLA")),
        recipient_la=str(_text(h, "RecipientLA")),
        created_at=_when(str(_text(h, "CreatedAt"))),
    )
    if doc_type is DocType.RECEIPT:
        if header.in_reply_to is None:
            raise ParseError("a receipt must name the message it acknowledges in InReplyTo")
        return Document(
            doc_type,
            header,
            received_sha256=_text(root, "ReceivedSHA256"),
            disposition=Disposition(str(_text(root, "Disposition"))),
        )
    pupil = None
    pupil_el = root.find(_Q + "Pupil")
    if pupil_el is not None:
        dob = _text(pupil_el, "DOB")
        pupil = Pupil(
            surname=str(_text(pupil_el, "Surname")),
            forename=str(_text(pupil_el, "Forename")),
            upn=_text(pupil_el, "UPN"),
            middle_names=_text(pupil_el, "MiddleNames"),
            former_surname=_text(pupil_el, "FormerSurname"),
            dob=date.fromisoformat(dob) if dob else None,
            sex=_text(pupil_el, "Sex"),
            address=_address(pupil_el.find(_Q + "Address")),
        )
    outcome = None
    outcome_el = root.find(_Q + "Outcome")
    if outcome_el is not None:
        choice = outcome_el[0]
        status = _OUTCOME_BY_ELEMENT[etree.QName(choice).localname]
        start = _text(choice, "StartDate")
        outcome = Outcome(
            status=status,
            laestab=_text(choice, "LAESTAB"),
            school_name=_text(choice, "SchoolName"),
            start_date=date.fromisoformat(start) if start else None,
            address=_address(choice.find(_Q + "Address")),
            moved_to_la=_text(choice, "LA"),
            destination=_text(choice, "Destination"),
        )
    return Document(
        doc_type,
        header,
        case_ref=_text(root, "CaseRef"),
        lawful_basis=_text(root, "LawfulBasis"),
        pupil=pupil,
        outcome=outcome,
        note=_text(root, "Note"),
    )


def _sub(parent: Any, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, _Q + name).text = value


def _render_address(parent: Any, address: Address) -> None:
    el = etree.SubElement(parent, _Q + "Address")
    if address.lines:
        lines = etree.SubElement(el, _Q + "AddressLines")
        for i, line in enumerate(address.lines[:5], start=1):
            etree.SubElement(lines, _Q + f"AddressLine{i}").text = line
    _sub(el, "PostCode", address.postcode)


def _stamp(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_document(doc: Document) -> bytes:
    """The XML for a document; parse_document(render_document(d)) gives d back."""
    nsmap: Any = {None: NS}
    root = etree.Element(_Q + doc.doc_type.value, nsmap=nsmap)
    h = etree.SubElement(root, _Q + "Header")
    _sub(h, "MessageID", doc.header.message_id)
    _sub(h, "InReplyTo", doc.header.in_reply_to)
    _sub(h, "SenderLA", doc.header.sender_la)
    _sub(h, "RecipientLA", doc.header.recipient_la)
    _sub(h, "CreatedAt", _stamp(doc.header.created_at))
    if doc.doc_type is DocType.RECEIPT:
        _sub(root, "ReceivedSHA256", doc.received_sha256)
        _sub(root, "Disposition", doc.disposition.value if doc.disposition else None)
    else:
        _sub(root, "CaseRef", doc.case_ref)
        _sub(root, "LawfulBasis", doc.lawful_basis)
        if doc.pupil is not None:
            p = doc.pupil
            el = etree.SubElement(root, _Q + "Pupil")
            _sub(el, "UPN", p.upn)
            _sub(el, "Surname", p.surname)
            _sub(el, "Forename", p.forename)
            _sub(el, "MiddleNames", p.middle_names)
            _sub(el, "FormerSurname", p.former_surname)
            _sub(el, "DOB", p.dob.isoformat() if p.dob else None)
            _sub(el, "Sex", p.sex)
            if p.address is not None:
                _render_address(el, p.address)
        if doc.outcome is not None:
            o = doc.outcome
            el = etree.SubElement(root, _Q + "Outcome")
            choice = etree.SubElement(el, _Q + _OUTCOME_ELEMENTS[o.status])
            if o.status is ReplyStatus.ON_ROLL:
                _sub(choice, "LAESTAB", o.laestab)
                _sub(choice, "SchoolName", o.school_name)
                _sub(choice, "StartDate", o.start_date.isoformat() if o.start_date else None)
            elif o.status is ReplyStatus.KNOWN_AT_ADDRESS and o.address is not None:
                _render_address(choice, o.address)
            elif o.status is ReplyStatus.MOVED_ON:
                _sub(choice, "LA", o.moved_to_la)
                _sub(choice, "Destination", o.destination)
        _sub(root, "Note", doc.note)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data

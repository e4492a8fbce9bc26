"""BER to DER for the CMS objects mail clients send (gpgsm, Outlook: indefinite lengths).

Streaming S/MIME writers emit BER: indefinite lengths (`30 80 ... 00 00`) and strings cut
into chunks. `cryptography` parses strict DER only, and asn1crypto reads most BER but not
an indefinite length directly under a CHOICE (RecipientInfo, SignerIdentifier, Name). So
a BER object is first normalised at the TLV level (definite lengths, joined universal
strings, which needs no schema), then re-encoded by asn1crypto with the CMS schema (which
knows an implicitly tagged string from a structure), and the result is checked to be DER.
A DER object is passed through untouched, byte for byte.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import cms

#: Universal string and time types: their constructed (chunked) forms are BER only.
_STRING_TAGS = frozenset({3, 4, 12, *range(18, 31)})
_OCTET_STRING = 0x04
#: Nesting deeper than this is no CMS object a client writes; it is refused, not recursed.
MAX_DEPTH = 64


class NotDer(ValueError):
    """The bytes are not (and could not be made) a DER encoding."""


def der_length(length: int) -> bytes:
    """A DER length field."""
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


class _Header:
    """One element's identifier and length octets, read leniently (BER)."""

    __slots__ = ("constructed", "der", "length", "number", "start", "tag", "universal")

    def __init__(self, data: bytes, pos: int, end: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise NotDer(f"nested deeper than {MAX_DEPTH} levels")
        if end - pos < 2:
            raise NotDer("truncated element")
        first = data[pos]
        i = pos + 1
        self.der = True
        self.constructed = bool(first & 0x20)
        self.universal = first & 0xC0 == 0
        number = first & 0x1F
        if number == 0x1F:  # high tag number, base 128
            if i >= end or data[i] == 0x80:
                raise NotDer("non-minimal tag number")
            number = 0
            while True:
                if i >= end or i - pos > 5:
                    raise NotDer("bad tag number")
                byte = data[i]
                i += 1
                number = (number << 7) | (byte & 0x7F)
                if not byte & 0x80:
                    break
            if number < 31:
                raise NotDer("high-tag form for a low tag number")
        self.number = number
        self.tag = data[pos:i]
        if self.universal and number == 0:
            raise NotDer("unexpected end-of-contents marker")
        if i >= end:
            raise NotDer("truncated length")
        length: int | None = data[i]
        i += 1
        if length == 0x80:
            if not self.constructed:
                raise NotDer("indefinite length on a primitive element")
            length = None
            self.der = False
        elif length is not None and length > 0x80:
            count = length & 0x7F
            if count > 4 or end - i < count:
                raise NotDer("bad long-form length")
            length = int.from_bytes(data[i : i + count], "big")
            if data[i] == 0 or length < 0x80:
                self.der = False  # a non-minimal length: legal BER, not DER
            i += count
        if length is not None and end - i < length:
            raise NotDer("length runs past the end")
        self.length = length
        self.start = i


def _element(data: bytes, pos: int, end: int, depth: int) -> int:
    """Check one DER element starting at pos; return the position after it."""
    head = _Header(data, pos, end, depth)
    if not head.der or head.length is None:
        raise NotDer("not a DER length")
    stop = head.start + head.length
    if head.constructed:
        if head.universal and head.number in _STRING_TAGS:
            raise NotDer(f"constructed (chunked) string, tag {head.number}")
        i = head.start
        while i < stop:
            i = _element(data, i, stop, depth + 1)
    elif (
        head.universal
        and head.number == 1
        and (head.length != 1 or data[head.start] not in (0x00, 0xFF))
    ):
        raise NotDer("BOOLEAN not encoded as 00 or FF")
    return stop


def is_der(data: bytes) -> bool:
    """True if data is exactly one element in DER's definite, unchunked form.

    Checked at the TLV level (lengths, chunked strings, booleans, end-of-contents); the
    schema-level rules (SET OF order, implicit tags) are asn1crypto's part of to_der.
    """
    try:
        return _element(data, 0, len(data), 0) == len(data)
    except NotDer:
        return False


def _string_value(number: int, chunks: list[bytes]) -> bytes:
    """The joined value of a chunked string; each chunk is a primitive of the same type."""
    values = []
    for i, chunk in enumerate(chunks):
        head = _Header(chunk, 0, len(chunk), 0)
        if head.constructed or not head.universal or head.number != number:
            raise NotDer(f"a chunk of a type-{number} string is not of that type")
        value = chunk[head.start :]
        if number == 3:  # BIT STRING: only the last chunk may leave bits unused
            if not value or (value[0] and i < len(chunks) - 1):
                raise NotDer("bad BIT STRING chunk")
            value = value[1:] if i < len(chunks) - 1 else value
        values.append(value)
    if number == 3:
        last = values.pop() if values else b"\x00"
        return last[:1] + b"".join(values) + last[1:]
    return b"".join(values)


def _normalise(data: bytes, pos: int, end: int, depth: int) -> tuple[bytes, int, bool]:
    """(one element with definite lengths, the position after it, whether it was DER)."""
    head = _Header(data, pos, end, depth)
    if not head.constructed:
        assert head.length is not None
        stop = head.start + head.length
        if head.der:
            return data[pos:stop], stop, True
        content = data[head.start : stop]
        return head.tag + der_length(len(content)) + content, stop, False
    children: list[bytes] = []
    was_der = head.der
    i = head.start
    stop = end if head.length is None else head.start + head.length
    while True:
        if head.length is None and data[i : i + 2] == b"\x00\x00":
            i += 2
            break
        if i >= stop:
            if head.length is None:
                raise NotDer("indefinite length without its end-of-contents")
            break
        child, i, child_der = _normalise(data, i, stop, depth + 1)
        children.append(child)
        was_der = was_der and child_der
    if head.universal and head.number in _STRING_TAGS:
        value = _string_value(head.number, children)
        return bytes([head.number]) + der_length(len(value)) + value, i, False
    if was_der:
        return data[pos:i], i, True
    tag = head.tag
    if not head.universal and children and all(c[0] == _OCTET_STRING for c in children):
        # An implicitly tagged string in chunks ([0] encryptedContent) or an explicit tag
        # around one OCTET STRING: only the schema can tell, so it is left in the
        # indefinite form asn1crypto reads as either.
        return tag + b"\x80" + b"".join(children) + b"\x00\x00", i, False
    body = b"".join(children)
    return tag + der_length(len(body)) + body, i, False


def normalise(data: bytes) -> bytes:
    """BER made as near DER as a schema-less pass can: for asn1crypto to read and finish."""
    try:
        out, stop, _was_der = _normalise(data, 0, len(data), 0)
    except IndexError:
        raise NotDer("truncated element") from None
    if stop != len(data):
        raise NotDer("bytes after the end of the object")
    return out


def der_of(value: Any) -> bytes:
    """A parsed asn1crypto value as DER: as received if it was DER, else re-encoded."""
    encoded: bytes = value.dump()
    if is_der(encoded):
        return encoded
    encoded = value.dump(force=True)
    if not is_der(encoded):
        raise NotDer(f"{type(value).__name__} cannot be re-encoded as DER")
    return encoded


def to_der(data: bytes) -> bytes:
    """A CMS ContentInfo in DER: the same bytes if it already is, else re-encoded."""
    if is_der(data):
        return data
    try:
        info = cms.ContentInfo.load(normalise(data), strict=True)
        encoded = info.dump(force=True)
    except (ValueError, TypeError, RecursionError) as exc:
        raise NotDer(f"not a BER-encoded CMS object ({type(exc).__name__}: {exc})") from None
    if not is_der(encoded):
        raise NotDer("the CMS object could not be re-encoded as DER")
    return encoded

"""BER on every CMS layer: indefinite lengths and chunked strings, as mail clients write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from gateway.exchange import smime
from gateway.exchange.ber import NotDer, der_length, is_der, to_der
from gateway.exchange.cms_verify import verify_signed_data
from gateway.exchange.envelope import open_message, seal
from gateway.exchange.errors import UntrustedMessage
from tests.gateway.exchange.conftest import PemIdentity

DOC = b'<?xml version="1.0" encoding="UTF-8"?>\n<enquiry>synthetic test payload</enquiry>\n'
TEXT = "Enquiry from LA 806 about a child who may live in your area."
#: Small enough that every OCTET STRING worth the name (IVs, digests, keys) is chunked.
CHUNK = 10


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag byte, content start, content end) of the DER element at pos (low tags only)."""
    tag = data[pos]
    assert tag & 0x1F != 0x1F, "no high tag numbers in what we write"
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, start, start + length


def _is_certificate(content: bytes) -> bool:
    """A TBSCertificate (v3) opens the content: a SEQUENCE, then [0] { INTEGER 2 }."""
    if not content or content[0] != 0x30:
        return False
    _tag, start, _end = _tlv(content, 0)
    return content[start : start + 5] == b"\xa0\x03\x02\x01\x02"


def ber_ify(der: bytes, *, implicit_strings: bool = False) -> bytes:
    """The same value in BER, as a streaming writer emits it.

    Every constructed element gets an indefinite length, every OCTET STRING longer than
    CHUNK is cut into chunks; with implicit_strings, so is a primitive [0] (EnvelopedData's
    encryptedContent). Embedded certificates are copied as they are, as real writers do.
    """
    out = []
    pos = 0
    while pos < len(der):
        tag, start, end = _tlv(der, pos)
        content = der[start:end]
        if tag & 0x20:
            if tag == 0x30 and _is_certificate(content):
                out.append(der[pos:end])
            else:
                inner = ber_ify(content, implicit_strings=implicit_strings)
                out.append(bytes([tag]) + b"\x80" + inner + b"\x00\x00")
        elif (tag == 0x04 or (implicit_strings and tag == 0x80)) and len(content) > CHUNK:
            chunks = [content[i : i + CHUNK] for i in range(0, len(content), CHUNK)]
            body = b"".join(b"\x04" + der_length(len(c)) + c for c in chunks)
            out.append(bytes([tag | 0x20]) + b"\x80" + body + b"\x00\x00")
        else:
            out.append(der[pos:end])
        pos = end
    return b"".join(out)


def now() -> datetime:
    return datetime.now(UTC)


def test_is_der_knows_ber_when_it_sees_it() -> None:
    assert is_der(b"\x30\x03\x02\x01\x05")
    assert is_der(b"\x04\x81\x80" + b"x" * 128)
    assert not is_der(b"\x30\x80\x02\x01\x05\x00\x00")  # indefinite length
    assert not is_der(b"\x04\x81\x05hello")  # long form for a short length
    assert not is_der(b"\x04\x82\x00\x05hello")  # leading zero in the length
    assert not is_der(b"\x24\x80\x04\x02he\x04\x03llo\x00\x00")  # chunked OCTET STRING
    assert not is_der(b"\x24\x09\x04\x02he\x04\x03llo")  # chunked, definite length
    assert not is_der(b"\x01\x01\x01")  # BOOLEAN true is FF in DER
    assert not is_der(b"\x30\x03\x02\x01\x05\x00")  # trailing bytes
    assert not is_der(b"\x30\x05\x02\x01\x05")  # truncated
    assert not is_der(b"")
    nested = b"\x05\x00"
    for _ in range(200):
        nested = b"\x30" + der_length(len(nested)) + nested
    assert not is_der(nested)  # refused, and no RecursionError


def test_der_passes_through_untouched(pki: dict[str, PemIdentity]) -> None:
    us, them = pki["807"], pki["806"]
    enveloped = smime.encrypt(b"hello", [us.identity.certificate, them.identity.certificate])
    assert is_der(enveloped)
    assert to_der(enveloped) is enveloped
    sealed = seal(DOC, TEXT, sender=them.identity, recipient=us.identity.certificate).der
    assert is_der(sealed) and to_der(sealed) is sealed


def test_ber_enveloped_data_is_re_encoded_and_decrypts(pki: dict[str, PemIdentity]) -> None:
    us, them = pki["807"], pki["806"]
    enveloped = smime.encrypt(b"hello world", [us.identity.certificate, them.identity.certificate])
    ber = ber_ify(enveloped, implicit_strings=True)
    assert not is_der(ber) and ber[:2] == b"\x30\x80"
    with pytest.raises(ValueError):  # what made every gpgsm reply "cannot decrypt"
        pkcs7.pkcs7_decrypt_der(ber, us.identity.certificate, us.identity.key, [])
    # Re-encoded, it is the very DER cryptography wrote: nothing was lost or reordered.
    assert to_der(ber) == enveloped
    assert smime.decrypt(ber, us.identity) == b"hello world"
    assert smime.decrypt(ber, them.identity) == b"hello world"


@pytest.mark.parametrize("pss", [False, True], ids=["pkcs1v15", "pss"])
def test_a_ber_signature_verifies_over_the_joined_content(
    pki: dict[str, PemIdentity], pss: bool
) -> None:
    """Chunked eContent, chunked message digest, indefinite signed attributes: the digest is
    over the joined value and the signature over the attributes' DER, as signed."""
    them = pki["806"]
    content = b"Content-Type: text/plain\r\n\r\n" + b"A reply long enough to be cut. " * 20
    der = smime.sign(content, them.identity, pss=pss)
    ber = ber_ify(der)
    signer_info = cms.ContentInfo.load(ber)["content"]["signer_infos"][0]
    assert (
        signer_info["signed_attrs"].contents
        != cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"].contents
    )  # the attributes themselves arrive as BER
    verified = verify_signed_data(ber, [them.identity.certificate], now=now())
    assert verified.content == content
    assert verified.signer == them.identity.certificate


def test_a_signature_over_ber_attributes_is_refused(pki: dict[str, PemIdentity]) -> None:
    """RFC 5652 5.4: the signature covers the DER of the attributes. One made over some BER
    form of them (here: the exact bytes on the wire) is not a valid signature."""
    them = pki["806"]
    der = smime.sign(b"Content-Type: text/plain\r\n\r\nhello\r\n", them.identity)
    info = cms.ContentInfo.load(der)
    signer_info = info["content"]["signer_infos"][0]
    on_the_wire = b"\x31\x80" + ber_ify(signer_info["signed_attrs"].contents) + b"\x00\x00"
    signer_info["signature"] = them.identity.key.sign(
        on_the_wire, padding.PKCS1v15(), hashes.SHA256()
    )
    forged = ber_ify(info.dump(force=True))
    with pytest.raises(UntrustedMessage) as err:
        verify_signed_data(forged, [them.identity.certificate], now=now())
    assert err.value.reason == "signature does not verify"


@pytest.mark.parametrize("pss", [False, True], ids=["pkcs1v15", "pss"])
def test_a_triple_wrap_in_ber_on_every_layer_opens(pki: dict[str, PemIdentity], pss: bool) -> None:
    us, them = pki["807"], pki["806"]
    payload = smime.payload_entity(DOC, TEXT, "exchange.xml")
    inner = ber_ify(smime.sign(payload, them.identity, pss=pss))
    enveloped = ber_ify(
        smime.encrypt(
            smime.pkcs7_entity(inner, "signed-data"),
            [us.identity.certificate, them.identity.certificate],
        ),
        implicit_strings=True,
    )
    outer = ber_ify(
        smime.sign(smime.pkcs7_entity(enveloped, "enveloped-data"), them.identity, pss=pss)
    )
    for layer in (inner, enveloped, outer):
        assert not is_der(layer)
    opened = open_message(outer, identity=us.identity, trusted=[them.identity.certificate],
                          now=now())  # fmt: skip
    assert opened.layers == ("signed", "enveloped", "signed")
    assert opened.document == DOC and opened.text == TEXT
    assert opened.signer_fingerprint == them.identity.fingerprint

    # A flipped byte in BER content is caught by the outer digest, before any decryption.
    bad = bytearray(outer)
    bad[len(bad) // 2] ^= 0x01
    with pytest.raises(UntrustedMessage) as err:
        open_message(bytes(bad), identity=us.identity, trusted=[them.identity.certificate],
                     now=now())  # fmt: skip
    assert str(err.value) == UntrustedMessage.GENERIC
    assert "decrypt" not in err.value.reason


def definite(ber: bytes) -> bytes:
    """BER with every indefinite length made definite, chunks kept: BER that no streaming
    writer emits, but legal."""
    out = []
    pos = 0
    while pos < len(ber):
        tag, length = ber[pos], ber[pos + 1]
        if length != 0x80:
            _tag, _start, end = _tlv(ber, pos)
            out.append(ber[pos:end])
            pos = end
            continue
        depth, end = 1, pos + 2
        while depth:  # find the matching end-of-contents
            if ber[end : end + 2] == b"\x00\x00":
                depth, end = depth - 1, end + 2
            elif ber[end + 1] == 0x80:
                depth, end = depth + 1, end + 2
            else:
                end = _tlv(ber, end)[2]
        body = definite(ber[pos + 2 : end - 2])
        out.append(bytes([tag]) + der_length(len(body)) + body)
        pos = end
    return b"".join(out)


def test_chunks_with_definite_lengths(pki: dict[str, PemIdentity]) -> None:
    us, them = pki["807"], pki["806"]
    content = b"Content-Type: text/plain\r\n\r\n" + b"x" * 100
    signed = definite(ber_ify(smime.sign(content, them.identity)))
    assert b"\x24" in signed and not is_der(signed)
    assert verify_signed_data(signed, [them.identity.certificate], now=now()).content == content
    # A chunked *implicitly tagged* string with a definite length needs the schema, and
    # asn1crypto reads such chunks only with an indefinite length: it is refused, with the
    # reason kept for the officer. (Chunks come from streaming writers, which know no
    # lengths; none we know of writes this.)
    enveloped = ber_ify(smime.encrypt(b"x" * 40, [us.identity.certificate]), implicit_strings=True)
    with pytest.raises(UntrustedMessage) as err:
        smime.decrypt(definite(enveloped), us.identity)
    assert err.value.reason.startswith("cannot decrypt: malformed enveloped-data")


def test_malformed_ber_is_the_generic_refusal(pki: dict[str, PemIdentity]) -> None:
    us, them = pki["807"], pki["806"]
    nested = b"\x05\x00"
    for _ in range(5000):
        nested = b"\x30\x80" + nested + b"\x00\x00"
    with pytest.raises(NotDer):
        to_der(nested)
    enveloped = ber_ify(smime.encrypt(b"x" * 40, [us.identity.certificate]), implicit_strings=True)
    unterminated = enveloped[:-2]
    for data in (enveloped[: len(enveloped) // 2], unterminated, nested, b"\x30\x80"):
        with pytest.raises(UntrustedMessage) as err:
            smime.decrypt(data, us.identity)
        assert str(err.value) == UntrustedMessage.GENERIC
        assert err.value.reason.startswith("cannot decrypt: malformed enveloped-data")
        with pytest.raises(UntrustedMessage) as err:
            verify_signed_data(data, [them.identity.certificate], now=now())
        assert str(err.value) == UntrustedMessage.GENERIC

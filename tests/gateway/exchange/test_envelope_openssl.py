"""The envelope against the real `openssl cms` command, both ways, and every refusal."""

from __future__ import annotations

import email
import email.policy
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.exchange.ber import is_der
from gateway.exchange.envelope import open_message, seal
from gateway.exchange.errors import UntrustedMessage
from tests.gateway.exchange.conftest import PemIdentity

DOC = b'<?xml version="1.0" encoding="UTF-8"?>\n<enquiry>synthetic test payload</enquiry>\n'
TEXT = "Enquiry from LA 807 about a child who may live in your area."
PSS = ["-keyopt", "rsa_padding_mode:pss"]


def openssl(*args: str | Path, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", "cms", *map(str, args)], input=data, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("pss", [False, True], ids=["pkcs1v15", "pss"])
def test_openssl_reads_what_we_send(pki: dict[str, PemIdentity], pss: bool) -> None:
    us, them = pki["807"], pki["806"]
    sealed = seal(DOC, TEXT, sender=us.identity, recipient=them.identity.certificate, pss=pss)
    layer2 = openssl("-verify", "-inform", "DER", "-CAfile", us.anchor_path, data=sealed.der)
    assert b"smime-type=enveloped-data" in layer2
    layer3 = openssl("-decrypt", "-recip", them.cert_path, "-inkey", them.key_path, data=layer2)
    payload = openssl("-verify", "-CAfile", us.anchor_path, data=layer3)
    assert b"Content-Type: application/vnd.cme-exchange+xml" in payload
    assert b"multipart/mixed" in payload
    # The copy we keep is encrypted to us as well, so the sent message stays readable.
    own = openssl("-decrypt", "-recip", us.cert_path, "-inkey", us.key_path, data=layer2)
    assert own == layer3
    # openssl checks the signature algorithm we claim: PSS really is PSS.
    info = openssl("-cmsout", "-print", "-inform", "DER", data=sealed.der)
    assert (b"rsassaPss" in info) == pss


def test_our_payload_decodes_to_the_document(pki: dict[str, PemIdentity]) -> None:
    us, them = pki["807"], pki["806"]
    sealed = seal(DOC, TEXT, sender=us.identity, recipient=them.identity.certificate)
    layer2 = openssl("-verify", "-inform", "DER", "-CAfile", us.anchor_path, data=sealed.der)
    layer3 = openssl("-decrypt", "-recip", them.cert_path, "-inkey", them.key_path, data=layer2)
    payload = openssl("-verify", "-CAfile", us.anchor_path, data=layer3)
    import email
    import email.policy

    msg = email.message_from_bytes(payload, policy=email.policy.default)
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in msg.walk()}
    assert parts["application/vnd.cme-exchange+xml"] == DOC
    assert parts["text/plain"].decode() == TEXT


#: openssl 3.0 cannot stream (write BER) with PSS ("illegal zero content"); BER with PSS
#: is covered by test_ber.py, which re-writes our own PSS signatures as BER.
SIGNING = pytest.mark.parametrize(
    ("pss", "ber"), [(False, False), (True, False), (False, True)],
    ids=["pkcs1v15-der", "pss-der", "pkcs1v15-ber"],
)  # fmt: skip


def smime_der(smime: bytes) -> bytes:
    """The CMS object inside an S/MIME entity, as a mail client decodes it."""
    msg = email.message_from_bytes(smime, policy=email.policy.default)
    body = msg.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body


def assert_ber(der: bytes) -> None:
    """The object really is BER: indefinite lengths that cryptography alone refuses."""
    assert der[:2] == b"\x30\x80"
    assert not is_der(der)


@SIGNING
@pytest.mark.parametrize("detached", [True, False], ids=["clear-signed", "opaque"])
def test_we_read_openssl_sign_then_encrypt(
    pki: dict[str, PemIdentity], tmp_path: Path, pss: bool, detached: bool, ber: bool
) -> None:
    us, them = pki["807"], pki["806"]
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    extra = PSS if pss else []
    stream = ["-stream"] if ber else []
    signed = openssl(
        "-sign", "-in", doc, "-signer", them.cert_path, "-inkey", them.key_path, "-md", "sha256",
        *extra, *stream, *([] if detached else ["-nodetach"]),
    )  # fmt: skip
    message = openssl("-encrypt", "-aes256", *stream, us.cert_path, data=signed)
    if ber:
        assert_ber(smime_der(message))
        if not detached:
            assert_ber(smime_der(signed))
    opened = open_message(
        message,
        identity=us.identity,
        trusted=[them.identity.certificate],
        now=now(),
        require_outer_signature=False,
    )
    assert opened.document is not None
    assert opened.document.replace(b"\r\n", b"\n") == DOC
    assert opened.signer_fingerprint == them.identity.fingerprint
    assert opened.layers == ("enveloped", "clear-signed" if detached else "signed")
    # Without an outer signature the strict (HTTPS) path refuses before decrypting.
    with pytest.raises(UntrustedMessage) as err:
        open_message(message, identity=us.identity, trusted=[them.identity.certificate], now=now())
    assert "before" in err.value.reason or "not inside" in err.value.reason


@pytest.mark.parametrize("partner", ["806", "806-self-signed"])
@SIGNING
def test_we_read_openssl_triple_wrap(
    pki: dict[str, PemIdentity], tmp_path: Path, pss: bool, ber: bool, partner: str
) -> None:
    us, them = pki["807"], pki[partner]
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    extra = PSS if pss else []
    stream = ["-stream"] if ber else []
    inner = openssl(
        "-sign", "-nodetach", "-in", doc, "-signer", them.cert_path, "-inkey", them.key_path,
        *extra, *stream,
    )  # fmt: skip
    enveloped = openssl("-encrypt", "-aes256", *stream, us.cert_path, them.cert_path, data=inner)
    outer = openssl(
        "-sign", "-nodetach", "-outform", "DER", "-signer", them.cert_path,
        "-inkey", them.key_path, *extra, *stream, data=enveloped,
    )  # fmt: skip
    if ber:
        for layer in (smime_der(inner), smime_der(enveloped), outer):
            assert_ber(layer)
    opened = open_message(
        outer, identity=us.identity, trusted=[them.identity.certificate], now=now()
    )
    assert opened.layers == ("signed", "enveloped", "signed")
    assert opened.document is not None
    assert opened.document.replace(b"\r\n", b"\n") == DOC


def test_a_tampered_ber_message_fails_on_the_outer_signature(
    pki: dict[str, PemIdentity], tmp_path: Path
) -> None:
    """BER changes nothing in the order of checks: the outer signature before decrypting."""
    us, them = pki["807"], pki["806"]
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    inner = openssl(
        "-sign", "-nodetach", "-stream", "-in", doc, "-signer", them.cert_path,
        "-inkey", them.key_path,
    )  # fmt: skip
    enveloped = openssl("-encrypt", "-aes256", "-stream", us.cert_path, data=inner)
    outer = openssl(
        "-sign", "-nodetach", "-stream", "-outform", "DER", "-signer", them.cert_path,
        "-inkey", them.key_path, data=enveloped,
    )  # fmt: skip
    assert_ber(outer)
    for offset in (len(outer) // 2, len(outer) // 3):
        bad = bytearray(outer)
        bad[offset] ^= 0x01
        reason = _refusal(bytes(bad), us, [them])
        assert "decrypt" not in reason


def test_openssl_verifies_with_our_anchor_only(pki: dict[str, PemIdentity], tmp_path: Path) -> None:
    """Our certificate chains to the anchor we hand out: openssl needs nothing else."""
    us, them = pki["807"], pki["806"]
    sealed = seal(DOC, TEXT, sender=us.identity, recipient=them.identity.certificate)
    openssl("-verify", "-inform", "DER", "-CAfile", us.anchor_path, "-purpose", "smimesign",
            data=sealed.der)  # fmt: skip
    # The certificate alone is no root to openssl: it is issued, not self-signed.
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-CAfile", str(us.cert_path)],
        input=sealed.der, capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0


def _refusal(data: bytes, pem: PemIdentity, trusted: list[PemIdentity], **kw: bool) -> str:
    with pytest.raises(UntrustedMessage) as err:
        open_message(
            data,
            identity=pem.identity,
            trusted=[t.identity.certificate for t in trusted],
            now=now(),
            **kw,
        )
    assert str(err.value) == UntrustedMessage.GENERIC
    return err.value.reason


def test_every_failure_is_the_same_error(pki: dict[str, PemIdentity], tmp_path: Path) -> None:
    us, them, impostor = pki["807"], pki["806"], pki["impostor"]
    good = seal(DOC, TEXT, sender=them.identity, recipient=us.identity.certificate).der

    # Tampered ciphertext: the outer signature fails first, so decryption never runs.
    for offset in (len(good) // 2, len(good) // 3, len(good) - 600):
        bad = bytearray(good)
        bad[offset] ^= 0x01
        reason = _refusal(bytes(bad), us, [them])
        assert "decrypt" not in reason

    # Wrong signer: an impostor's certificate claiming to be LA 806.
    forged = seal(DOC, TEXT, sender=impostor.identity, recipient=us.identity.certificate).der
    assert "pinned" in _refusal(forged, us, [them])

    # Unknown sender: no partner pinned at all.
    assert "pinned" in _refusal(good, us, [])

    # Expired certificate, even though it is pinned.
    expired = pki["808-expired"]
    old = seal(DOC, TEXT, sender=expired.identity, recipient=us.identity.certificate).der
    assert "not valid now" in _refusal(old, us, [expired])

    # Addressed to someone else: LA 806 cannot open a message 807 sealed for 808.
    other = seal(DOC, TEXT, sender=us.identity, recipient=expired.identity.certificate).der
    assert "decrypt" in _refusal(other, them, [us])

    # Garbage and truncation.
    assert _refusal(b"\x30\x03\x02\x01\x00", us, [them])
    assert _refusal(good[: len(good) // 2], us, [them])
    assert _refusal(b"not a message at all", us, [them])

    # Sign-then-encrypt on the mail path with a flipped ciphertext byte: the padding or
    # decryption failure surfaces as the very same error, so it is no oracle.
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    signed = openssl("-sign", "-in", doc, "-signer", them.cert_path, "-inkey", them.key_path)
    enc = openssl("-encrypt", "-aes256", "-outform", "DER", us.cert_path, data=signed)
    flipped = bytearray(enc)
    flipped[-20] ^= 0x55
    _refusal(bytes(flipped), us, [them], require_outer_signature=False)


def test_sha1_signatures_are_refused(pki: dict[str, PemIdentity], tmp_path: Path) -> None:
    us, them = pki["807"], pki["806"]
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    signed = openssl(
        "-sign", "-nodetach", "-md", "sha1", "-in", doc, "-signer", them.cert_path,
        "-inkey", them.key_path,
    )  # fmt: skip
    enc = openssl("-encrypt", "-aes256", us.cert_path, data=signed)
    assert "sha1" in _refusal(enc, us, [them], require_outer_signature=False)


def test_unencrypted_message_is_refused(pki: dict[str, PemIdentity], tmp_path: Path) -> None:
    us, them = pki["807"], pki["806"]
    doc = tmp_path / "doc.xml"
    doc.write_bytes(DOC)
    signed = openssl(
        "-sign", "-nodetach", "-outform", "DER", "-in", doc, "-signer", them.cert_path,
        "-inkey", them.key_path,
    )  # fmt: skip
    assert "not encrypted" in _refusal(signed, us, [them])

"""The triple-wrapped envelope (RFC 2634): sign, encrypt to both sides, sign again.

Opening checks the outer signature against the pinned partner *before* decrypting, so a
tampered ciphertext never reaches the padding check; every failure is the same
UntrustedMessage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from gateway.exchange import smime
from gateway.exchange.cms_verify import verify_signed_data
from gateway.exchange.errors import UntrustedMessage
from gateway.exchange.keys import Identity, fingerprint

MAX_LAYERS = 8


@dataclass(frozen=True)
class Sealed:
    der: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


@dataclass(frozen=True)
class Opened:
    """An authenticated, decrypted message: who signed it and what it says."""

    signer: x509.Certificate
    document: bytes | None
    text: str | None
    wire_sha256: str
    layers: tuple[str, ...]

    @property
    def signer_fingerprint(self) -> str:
        return fingerprint(self.signer)


def seal(
    document: bytes,
    text: str,
    *,
    sender: Identity,
    recipient: x509.Certificate,
    filename: str = "exchange.xml",
    pss: bool = False,
) -> Sealed:
    """Sign the payload, encrypt it to the recipient and to us, sign the ciphertext."""
    inner = smime.sign(smime.payload_entity(document, text, filename), sender, pss=pss)
    enveloped = smime.encrypt(
        smime.pkcs7_entity(inner, "signed-data"), [recipient, sender.certificate]
    )
    outer = smime.sign(smime.pkcs7_entity(enveloped, "enveloped-data"), sender, pss=pss)
    return Sealed(outer)


def _content_type(der: bytes) -> str:
    from asn1crypto import cms

    try:
        return str(cms.ContentInfo.load(der)["content_type"].native)
    except Exception as exc:  # malformed DER is one more untrusted message
        raise UntrustedMessage(f"not a CMS object: {type(exc).__name__}") from None


def open_message(
    data: bytes,
    *,
    identity: Identity,
    trusted: Sequence[x509.Certificate],
    now: datetime,
    require_outer_signature: bool = True,
) -> Opened:
    """Peel the layers of an inbound S/MIME message (DER or MIME) and authenticate it.

    require_outer_signature=False admits the sign-then-encrypt form ordinary mail clients
    and `openssl cms -sign | openssl cms -encrypt` produce; it is only for mail, where no
    answer goes back to the sender, so a failed decryption cannot serve as an oracle.
    """
    signer: x509.Certificate | None = None
    layers: list[str] = []
    wire_sha: str | None = None
    last_layer_signed = False
    current = data
    try:
        for _ in range(MAX_LAYERS):
            if current[:1] == b"\x30":
                if wire_sha is None:
                    wire_sha = hashlib.sha256(current).hexdigest()
                kind = _content_type(current)
                if kind == "signed_data":
                    verified = verify_signed_data(current, trusted, now=now)
                    if signer is not None and fingerprint(signer) != fingerprint(verified.signer):
                        raise UntrustedMessage("layers signed by different certificates")
                    signer = verified.signer
                    current = verified.content
                    layers.append("signed")
                    last_layer_signed = True
                elif kind == "enveloped_data":
                    if require_outer_signature and signer is None:
                        raise UntrustedMessage("encrypted layer not inside a verified signature")
                    current = smime.decrypt(current, identity)
                    layers.append("enveloped")
                    last_layer_signed = False
                else:
                    raise UntrustedMessage(f"unexpected CMS content type {kind}")
                continue
            entity = smime.read_entity(current)
            if entity.cms_der is not None:
                current = entity.cms_der
                continue
            if entity.signed_part is not None and entity.signature_der is not None:
                if wire_sha is None:
                    wire_sha = hashlib.sha256(entity.signature_der).hexdigest()
                verified = verify_signed_data(
                    entity.signature_der, trusted, now=now, detached=entity.signed_part
                )
                if signer is not None and fingerprint(signer) != fingerprint(verified.signer):
                    raise UntrustedMessage("layers signed by different certificates")
                signer = verified.signer
                current = entity.signed_part
                layers.append("clear-signed")
                last_layer_signed = True
                continue
            if signer is None or not last_layer_signed:
                raise UntrustedMessage("the content is not directly covered by a signature")
            if "enveloped" not in layers:
                raise UntrustedMessage("the message was not encrypted")
            return Opened(signer, entity.document, entity.text, str(wire_sha), tuple(layers))
        raise UntrustedMessage("too many S/MIME layers")
    except UntrustedMessage as exc:
        # Past a verified signature the sender is a pinned partner: the quarantine may keep
        # such a message whole; anything refused before that is an anonymous sender's.
        if exc.signer is None:
            exc.signer = signer
        raise

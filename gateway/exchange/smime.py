"""S/MIME building blocks: sign, encrypt, decrypt with `cryptography`, and the MIME layers."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from gateway.exchange.ber import NotDer, to_der
from gateway.exchange.errors import UntrustedMessage
from gateway.exchange.keys import Identity

XML_TYPE = "application/vnd.cme-exchange+xml"
_XML_TYPES = {XML_TYPE, "application/xml", "text/xml"}


def sign(content: bytes, identity: Identity, *, pss: bool = False) -> bytes:
    """DER SignedData with the content embedded (opaque), byte for byte as given."""
    pad: padding.PSS | padding.PKCS1v15 = (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        if pss
        else padding.PKCS1v15()
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(identity.certificate, identity.key, hashes.SHA256(), rsa_padding=pad)
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def encrypt(content: bytes, recipients: Sequence[x509.Certificate]) -> bytes:
    """DER EnvelopedData: AES-256-CBC, the key wrapped with RSA for each recipient."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(content)
    for cert in recipients:
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise ValueError("S/MIME recipients must have RSA keys")
        builder = builder.add_recipient(cert)
    builder = builder.set_content_encryption_algorithm(algorithms.AES256)
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def decrypt(data: bytes, identity: Identity) -> bytes:
    """The content of an EnvelopedData (DER or BER) addressed to us; any failure is generic."""
    try:
        # Mail clients write BER (indefinite lengths, chunked ciphertext); cryptography
        # reads DER only, so the structure is re-encoded first (the ciphertext is as sent).
        der = to_der(data)
    except NotDer as exc:
        raise UntrustedMessage(f"cannot decrypt: malformed enveloped-data: {exc}") from None
    try:
        return pkcs7.pkcs7_decrypt_der(der, identity.certificate, identity.key, [])
    except Exception as exc:  # padding, wrong recipient, unsupported cipher: all alike
        raise UntrustedMessage(f"cannot decrypt: {type(exc).__name__}") from None


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def pkcs7_entity(der: bytes, smime_type: str) -> bytes:
    """A MIME entity carrying one CMS object, as S/MIME mail clients expect each layer."""
    body = base64.encodebytes(der)
    head = (
        f'Content-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="smime.p7m"\n\n'
    ).encode("ascii")
    return _crlf(head + body)


_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def _b64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def payload_entity(document: bytes, text: str, filename: str) -> bytes:
    """The innermost layer: a readable text part for people and the XML for software."""
    if text and _PLAIN_FILENAME.fullmatch(filename):
        # The bytes the email package writes for this layer, written directly: its
        # generator costs more than the layer's signature. Base64 bodies never hold
        # "===", so a boundary of "=" and digits cannot occur inside them.
        boundary = f"==============={secrets.randbelow(10**19):019d}=="
        return b"".join(
            [
                f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode(),
                f"--{boundary}\r\n".encode(),
                b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
                b"Content-Transfer-Encoding: base64\r\n\r\n",
                _b64_lines(text.encode("utf-8")),
                f"\r\n--{boundary}\r\n".encode(),
                f'Content-Type: {XML_TYPE}; name="{filename}"\r\nMIME-Version: 1.0\r\n'
                "Content-Transfer-Encoding: base64\r\n"
                f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'.encode(),
                _b64_lines(document),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
    return _payload_by_email_package(document, text, filename)


def _payload_by_email_package(document: bytes, text: str, filename: str) -> bytes:
    outer = MIMEMultipart("mixed")
    outer.attach(MIMEText(text, "plain", "utf-8"))
    _maintype, subtype = XML_TYPE.split("/")
    xml = MIMEApplication(document, subtype, name=filename)
    xml.replace_header("Content-Type", f'{XML_TYPE}; name="{filename}"')
    xml.add_header("Content-Disposition", "attachment", filename=filename)
    outer.attach(xml)
    data = outer.as_bytes(policy=email.policy.SMTP)
    # The MIME-Version header belongs to the whole mail, not to an inner layer.
    return data.replace(b"MIME-Version: 1.0\r\n", b"", 1)


@dataclass(frozen=True)
class Entity:
    """What a MIME layer holds: a CMS object, a clear-signed pair, or the final payload."""

    cms_der: bytes | None = None
    signed_part: bytes | None = None
    signature_der: bytes | None = None
    document: bytes | None = None
    text: str | None = None


def _split_signed(data: bytes, boundary: str) -> tuple[bytes, bytes]:
    """The exact bytes of the first part and the signature of a multipart/signed entity."""
    data = _crlf(data)
    delim = b"\r\n--" + boundary.encode("ascii")
    start = data.find(b"--" + boundary.encode("ascii") + b"\r\n")
    if start < 0:
        raise UntrustedMessage("multipart/signed without its first boundary")
    body = b"\r\n" + data[start:]
    parts = body.split(delim)
    # parts: ['', part1, part2, '--...']
    if len(parts) < 4:
        raise UntrustedMessage("multipart/signed needs exactly two parts")
    first = parts[1][2:] if parts[1].startswith(b"\r\n") else parts[1]
    sig_msg = email.message_from_bytes(parts[2].lstrip(b"\r\n"), policy=email.policy.default)
    signature = sig_msg.get_payload(decode=True)
    if not isinstance(signature, bytes) or "pkcs7-signature" not in sig_msg.get_content_type():
        raise UntrustedMessage("multipart/signed second part is not a PKCS#7 signature")
    return first, signature


def _text(part: email.message.Message) -> str:
    """A text part's words, decoded as email.policy.default's get_content() does."""
    body = part.get_payload(decode=True)
    if not isinstance(body, bytes):
        return ""
    charset = part.get_param("charset", "ASCII")
    return body.decode(str(charset), errors="replace")


def read_entity(data: bytes) -> Entity:
    """Look inside one MIME layer (or a bare XML document)."""
    stripped = data.lstrip()
    if stripped.startswith(b"<"):
        return Entity(document=data)
    # compat32: the structured headers of email.policy.default cost more than the
    # signature checks of a layer; nothing here needs more than types, params and bodies.
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    ctype = msg.get_content_type()
    if ctype in {"application/pkcs7-mime", "application/x-pkcs7-mime"}:
        der = msg.get_payload(decode=True)
        if not isinstance(der, bytes) or not der:
            raise UntrustedMessage("empty application/pkcs7-mime part")
        return Entity(cms_der=der)
    if ctype == "multipart/signed":
        boundary = msg.get_boundary()
        if not boundary:
            raise UntrustedMessage("multipart/signed without a boundary")
        first, signature = _split_signed(data, boundary)
        return Entity(signed_part=first, signature_der=signature)
    document = None
    text = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ptype = part.get_content_type()
        filename = part.get_filename() or ""
        if ptype in _XML_TYPES or filename.lower().endswith(".xml"):
            body = part.get_payload(decode=True)
            if document is None and isinstance(body, bytes):
                document = body
        elif ptype == "text/plain" and text is None and not filename:
            text = _text(part)
    if document is None and text is None:
        raise UntrustedMessage(f"no exchange document or text in a {ctype} layer")
    return Entity(document=document, text=text)

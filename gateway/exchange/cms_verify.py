"""A small CMS SignedData verifier: asn1crypto for the structure, cryptography for the maths.

`cryptography` can make CMS signatures but has no public API to check one. This module
checks exactly one signer against certificates we pinned (never against certificates
carried in the message), with SHA-2 digests and RSA PKCS#1 v1.5, RSA-PSS or ECDSA.
Every failure raises UntrustedMessage with the same public message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.exchange.ber import der_length, der_of, is_der, normalise
from gateway.exchange.errors import UntrustedMessage

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Verified:
    content: bytes
    signer: x509.Certificate
    signing_time: datetime | None


def _fail(reason: str) -> UntrustedMessage:
    return UntrustedMessage(reason)


@dataclass(frozen=True)
class _Ids:
    """How a SignerInfo may name a certificate, read from it once (not on every message)."""

    issuer_der: bytes
    issuer: asn1_x509.Name
    serial_number: int
    key_identifier: bytes | None


@lru_cache(maxsize=256)
def _ids(der: bytes) -> _Ids:
    parsed = asn1_x509.Certificate.load(der)
    issuer = parsed.issuer
    issuer.native  # noqa: B018  (parsed now, not lazily by several threads at once)
    return _Ids(issuer.dump(), issuer, parsed.serial_number, parsed.key_identifier)


def _match_signer(sid: Any, trusted: Sequence[x509.Certificate]) -> x509.Certificate:
    for cert in trusted:
        ids = _ids(cert.public_bytes(serialization.Encoding.DER))
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            # Equal DER is an equal name; only otherwise does the slow X.520 comparison run.
            if ias["serial_number"].native == ids.serial_number and (
                ias["issuer"].dump() == ids.issuer_der or ias["issuer"] == ids.issuer
            ):
                return cert
        elif (
            sid.name == "subject_key_identifier"
            and ids.key_identifier is not None
            and sid.chosen.native == ids.key_identifier
        ):
            return cert
    raise _fail("signer is not a pinned partner certificate")


def _check_signature(
    cert: x509.Certificate, sig_alg: Any, digest_name: str, signature: bytes, signed: bytes
) -> None:
    key = cert.public_key()
    algo = _HASHES[digest_name]()
    name = sig_alg["algorithm"].native
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if name == "rsassa_pss":
                params = sig_alg["parameters"]
                pss_hash = params["hash_algorithm"]["algorithm"].native
                mgf = params["mask_gen_algorithm"]
                mgf_hash = mgf["parameters"]["algorithm"].native
                if (
                    mgf["algorithm"].native != "mgf1"
                    or pss_hash != digest_name
                    or mgf_hash != digest_name
                ):
                    raise _fail(f"PSS parameters {pss_hash}/{mgf_hash} do not match {digest_name}")
                pad: padding.AsymmetricPadding = padding.PSS(
                    mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=params["salt_length"].native
                )
            elif name in {"rsassa_pkcs1v15", f"{digest_name}_rsa"}:
                pad = padding.PKCS1v15()
            else:
                raise _fail(f"signature algorithm {name} is not accepted for an RSA key")
            key.verify(signature, signed, pad, algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if name not in {"ecdsa", f"{digest_name}_ecdsa"}:
                raise _fail(f"signature algorithm {name} is not accepted for an EC key")
            key.verify(signature, signed, ec.ECDSA(algo))
        else:
            raise _fail("the signer's key type is not supported")
    except InvalidSignature:
        raise _fail("signature does not verify") from None


def _signed_attributes(attrs: Any) -> bytes:
    """The bytes the signature covers: the attributes' DER as a SET (RFC 5652 5.4), not [0].

    Each attribute is taken as received when it is DER (as every signer we know sends
    them, even inside BER), else re-encoded; the order is kept as received, as
    `openssl cms -verify` does, so a BER container never changes what is checked.
    """
    body = b"".join(der_of(attr) for attr in attrs)
    return b"\x31" + der_length(len(body)) + body


def verify_signed_data(
    data: bytes,
    trusted: Sequence[x509.Certificate],
    *,
    now: datetime,
    detached: bytes | None = None,
) -> Verified:
    """Check a ContentInfo(SignedData), DER or BER, and return its content and pinned signer."""
    try:
        # BER (mail clients stream it) is read in its normalised form: the same values.
        info = cms.ContentInfo.load(data if is_der(data) else normalise(data), strict=True)
        if info["content_type"].native != "signed_data":
            raise _fail(f"expected signed-data, got {info['content_type'].native}")
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        econtent_type = encap["content_type"].native
        raw = encap["content"]
        content: bytes | None = None
        if not isinstance(raw, core.Void):
            # eContent is an OCTET STRING (asn1crypto would parse other types as
            # structures): every sender we know signs a MIME entity as id-data.
            if econtent_type != "data":
                raise _fail(f"encapsulated content type {econtent_type} is not accepted")
            # BER may cut it into chunks: the digest is over the joined value.
            content = bytes(raw.native)
        if content is None:
            content = detached
        elif detached is not None:
            raise _fail("both embedded and detached content")
        if content is None:
            raise _fail("no signed content")
        signers = list(signed_data["signer_infos"])
        if len(signers) != 1:
            raise _fail(f"expected one signer, found {len(signers)}")
        si = signers[0]
        digest_name = si["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise _fail(f"digest {digest_name} is not accepted")
        cert = _match_signer(si["sid"], trusted)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise _fail("the signer's certificate is not valid now (expired or not yet valid)")
        signing_time = None
        attrs = si["signed_attrs"]
        if attrs.native is not None and len(attrs):
            values: dict[str, list[Any]] = {}
            for attr in attrs:
                values.setdefault(attr["type"].native, []).extend(attr["values"])
            digests = values.get("message_digest", [])
            ctypes = values.get("content_type", [])
            if len(digests) != 1 or len(ctypes) != 1:
                raise _fail("signed attributes lack one message-digest and one content-type")
            if ctypes[0].native != econtent_type:
                raise _fail("content-type attribute does not match the content")
            expected = hashlib.new(digest_name, content).digest()
            if digests[0].native != expected:
                raise _fail("message digest does not match the content")
            times = values.get("signing_time", [])
            if times:
                signing_time = times[0].native
            signed = _signed_attributes(attrs)
        else:
            signed = content
        _check_signature(
            cert, si["signature_algorithm"], digest_name, si["signature"].native, signed
        )
        return Verified(content, cert, signing_time)
    except UntrustedMessage:
        raise
    except Exception as exc:  # any malformed input is the same failure to the sender
        raise _fail(f"malformed signed-data: {type(exc).__name__}: {exc}") from None

"""Our LA's exchange key and S/MIME certificate (RSA 3072), kept in $CME_HOME/keys/."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.exchange.errors import ExchangeError, ExchangeNotConfigured

KEY_FILE = "exchange.key"
CERT_FILE = "exchange.crt"
CSR_FILE = "exchange.csr"
#: The one-off authority that issued our certificate: what a partner's mail client trusts.
ANCHOR_FILE = "exchange-ca.crt"
KEY_BITS = 3072


@dataclass(frozen=True)
class Identity:
    """Our certificate and private key: what we sign and decrypt with."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint partners pin: lower-case hex, no separators."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _name(la_code: str, la_name: str, email: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"CME exchange LA {la_code}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, la_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"LA {la_code}"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
        ]
    )


def _anchor_name(la_code: str, la_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"CME exchange LA {la_code} issuing authority"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, la_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"LA {la_code}"),
        ]
    )


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _key_usage(
    *, sign: bool = False, encrypt: bool = False, certify: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=encrypt,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certify,
        crl_sign=certify,
        encipher_only=False,
        decipher_only=False,
    )


def _mail_certificate(
    key: rsa.RSAPrivateKey,
    subject: x509.Name,
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    email: str,
    start: datetime,
    days: int,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, encrypt=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if signer is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def self_signed(
    key: rsa.RSAPrivateKey,
    *,
    la_code: str,
    la_name: str,
    email: str,
    not_before: datetime | None = None,
    days: int = 825,
) -> x509.Certificate:
    """A self-signed S/MIME certificate (CA:FALSE, emailProtection).

    What `cme keys init` made before issue_certificate: still pinned and accepted by
    gateways, but a mail client will not take it as a trust anchor (gpgsm only with
    `relax` in its trustlist; see docs/partners.md).
    """
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    name = _name(la_code, la_name, email)
    return _mail_certificate(key, name, name, key, email, start, days)


@dataclass(frozen=True)
class Issued:
    """Our S/MIME certificate and the one-off authority certificate that issued it."""

    certificate: x509.Certificate
    anchor: x509.Certificate


def issue_certificate(
    key: rsa.RSAPrivateKey,
    *,
    la_code: str,
    la_name: str,
    email: str,
    not_before: datetime | None = None,
    days: int = 825,
) -> Issued:
    """An end-entity S/MIME certificate for our key, issued by a one-off authority.

    Mail clients (gpgsm, Thunderbird, Outlook) want a trust anchor that is a CA and a
    signer that is not; a self-signed CA:FALSE certificate is neither to them. So a fresh
    authority (CA:TRUE, pathlen 0) signs our certificate and its key is then discarded:
    the anchor a partner's mail client trusts can vouch for this one certificate and
    nothing else, ever. Our own gateway and partner gateways still pin the end-entity
    certificate's fingerprint, never the anchor.
    """
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    authority_key = new_key()
    authority = _anchor_name(la_code, la_name)
    anchor = (
        x509.CertificateBuilder()
        .subject_name(authority)
        .issuer_name(authority)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certify=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )
    certificate = _mail_certificate(
        key, _name(la_code, la_name, email), authority, authority_key, email, start, days
    )
    return Issued(certificate, anchor)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def init_keys(
    keys_dir: Path, *, la_code: str, la_name: str, email: str, csr: bool = False, days: int = 825
) -> Path:
    """Make the key, our certificate and its anchor (and a CSR if asked); never overwrite."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    key_path = keys_dir / KEY_FILE
    if key_path.exists():
        raise ExchangeError(
            f"{key_path} already exists; the exchange key is not replaced automatically "
            "(partners have pinned its certificate). Move it aside first to make a new one."
        )
    key = new_key()
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    issued = issue_certificate(key, la_code=la_code, la_name=la_name, email=email, days=days)
    (keys_dir / ANCHOR_FILE).write_bytes(issued.anchor.public_bytes(serialization.Encoding.PEM))
    (keys_dir / CERT_FILE).write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
    if csr:
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(_name(la_code, la_name, email))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        (keys_dir / CSR_FILE).write_bytes(request.public_bytes(serialization.Encoding.PEM))
    return keys_dir / CERT_FILE


def load_identity(keys_dir: Path) -> Identity:
    """Our key and certificate, or an error saying to run `cme keys init`."""
    try:
        stamp = tuple(
            (p.stat().st_mtime_ns, p.stat().st_size)
            for p in (keys_dir / KEY_FILE, keys_dir / CERT_FILE)
        )
    except FileNotFoundError:
        raise ExchangeNotConfigured(
            f"no exchange key in {keys_dir}; run `cme keys init` first"
        ) from None
    return _load_identity(keys_dir, stamp)


@lru_cache(maxsize=8)
def _load_identity(keys_dir: Path, _stamp: tuple[tuple[int, int], ...]) -> Identity:
    # Loading a 3072-bit key runs its consistency checks (~0.2 s): do it once per file
    # version, not once per message. The stamp makes a replaced key file load afresh.
    try:
        key_pem = (keys_dir / KEY_FILE).read_bytes()
        cert_pem = (keys_dir / CERT_FILE).read_bytes()
    except FileNotFoundError:
        raise ExchangeNotConfigured(
            f"no exchange key in {keys_dir}; run `cme keys init` first"
        ) from None
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ExchangeError(f"{keys_dir / KEY_FILE} is not an RSA key")
    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise ExchangeError(
            f"{keys_dir / CERT_FILE} does not belong to {keys_dir / KEY_FILE}; "
            "install the certificate issued for this key"
        )
    return Identity(cert, key)


def load_anchor(keys_dir: Path) -> x509.Certificate | None:
    """The one-off authority that issued our certificate, for partners' mail clients.

    None when there is none, or when it did not issue the certificate we use (a
    self-signed one from before, or one a real CA issued from our CSR).
    """
    try:
        anchor = x509.load_pem_x509_certificate((keys_dir / ANCHOR_FILE).read_bytes())
        cert = x509.load_pem_x509_certificate((keys_dir / CERT_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cert.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        return None
    return anchor


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes, or an error that says which formats work."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ExchangeError(
            "the certificate file is not an X.509 certificate in PEM or DER form"
        ) from None

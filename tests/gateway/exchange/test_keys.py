"""`cme keys init`: our certificate, issued by a one-off anchor a mail client can trust."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.exchange.keys import (
    ANCHOR_FILE,
    CERT_FILE,
    KEY_FILE,
    init_keys,
    load_anchor,
    load_identity,
    self_signed,
)


def test_keys_init_issues_our_certificate_from_a_one_off_anchor(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(keys, la_code="807", la_name="Test LA 807", email="cme@la807.example")
    # The anchor's key is never written: nothing else can ever be issued under it.
    assert sorted(p.name for p in keys.iterdir()) == sorted([ANCHOR_FILE, CERT_FILE, KEY_FILE])
    identity = load_identity(keys)
    anchor = load_anchor(keys)
    assert anchor is not None
    cert = identity.certificate
    cert.verify_directly_issued_by(anchor)
    assert cert.issuer == anchor.subject != cert.subject

    ca = anchor.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca.critical and ca.value.ca and ca.value.path_length == 0
    ca_usage = anchor.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_usage.key_cert_sign and not ca_usage.digital_signature
    anchor.verify_directly_issued_by(anchor)  # self-signed: the root a client anchors

    ee = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ee.critical and not ee.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["cme@la807.example"]
    assert anchor.not_valid_after_utc >= cert.not_valid_after_utc > datetime.now(UTC)


def test_no_anchor_for_a_certificate_it_did_not_issue(tmp_path: Path) -> None:
    """A self-signed certificate from before, or one a CA issued from our CSR, replaces
    exchange.crt: the stale anchor file is then no anchor of ours."""
    keys = tmp_path / "keys"
    init_keys(keys, la_code="807", la_name="Test LA 807", email="cme@la807.example")
    identity = load_identity(keys)
    older = self_signed(identity.key, la_code="807", la_name="Test LA 807",
                        email="cme@la807.example")  # fmt: skip
    (keys / CERT_FILE).write_bytes(older.public_bytes(serialization.Encoding.PEM))
    assert load_anchor(keys) is None
    (keys / ANCHOR_FILE).unlink()
    assert load_anchor(keys) is None


def test_export_cert_with_its_anchor_for_a_mail_client(cme_home, cli) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    cli.add_user("ada", "admin")
    assert cli("keys", "init", as_user="ada").exit_code == 0
    out = cli("keys", "export-cert", "--anchor")
    assert out.exit_code == 0, out.output
    certs = x509.load_pem_x509_certificates(out.output.encode())
    assert len(certs) == 2
    leaf, anchor = certs
    leaf.verify_directly_issued_by(anchor)

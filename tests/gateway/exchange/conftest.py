"""Fixtures for the exchange tests: LA identities made once, written as PEM for openssl."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.exchange.keys import Identity, new_key, self_signed


@dataclass(frozen=True)
class PemIdentity:
    identity: Identity
    cert_path: Path
    key_path: Path


def _write(identity: Identity, folder: Path, name: str) -> PemIdentity:
    cert_path = folder / f"{name}.crt"
    key_path = folder / f"{name}.key"
    cert_path.write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return PemIdentity(identity, cert_path, key_path)


def make_identity(la: str, *, expired: bool = False) -> Identity:
    key = new_key()
    start = datetime.now(UTC) - (timedelta(days=400) if expired else timedelta(minutes=5))
    cert = self_signed(
        key,
        la_code=la,
        la_name=f"Test LA {la}",
        email=f"cme@la{la}.example",
        not_before=start,
        days=30 if expired else 825,
    )
    return Identity(cert, key)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PemIdentity]:
    """LA 807 (us), LA 806 (partner), an impostor for 806, and 808 with an expired cert."""
    folder = tmp_path_factory.mktemp("pki")
    return {
        "807": _write(make_identity("807"), folder, "la807"),
        "806": _write(make_identity("806"), folder, "la806"),
        "impostor": _write(make_identity("806"), folder, "impostor"),
        "808-expired": _write(make_identity("808", expired=True), folder, "la808"),
    }

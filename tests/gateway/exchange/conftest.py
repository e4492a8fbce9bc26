"""Fixtures for the exchange tests: LA identities made once, written as PEM for openssl."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.exchange.keys import Identity, issue_certificate, new_key, self_signed


@dataclass(frozen=True)
class PemIdentity:
    identity: Identity
    cert_path: Path
    key_path: Path
    #: What a relying party trusts: the issuing anchor, or the certificate if self-signed.
    anchor_path: Path


def _write(
    identity: Identity, folder: Path, name: str, anchor: x509.Certificate | None = None
) -> PemIdentity:
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
    anchor_path = cert_path
    if anchor is not None:
        anchor_path = folder / f"{name}-ca.crt"
        anchor_path.write_bytes(anchor.public_bytes(serialization.Encoding.PEM))
    return PemIdentity(identity, cert_path, key_path, anchor_path)


def _start(expired: bool) -> datetime:
    return datetime.now(UTC) - (timedelta(days=400) if expired else timedelta(minutes=5))


def make_identity(la: str, *, expired: bool = False) -> Identity:
    """A self-signed identity (the shape `cme keys init` made before it issued an anchor)."""
    key = new_key()
    cert = self_signed(
        key,
        la_code=la,
        la_name=f"Test LA {la}",
        email=f"cme@la{la}.example",
        not_before=_start(expired),
        days=30 if expired else 825,
    )
    return Identity(cert, key)


def make_issued(la: str) -> tuple[Identity, x509.Certificate]:
    """An identity as `cme keys init` makes it now, with the anchor that issued it."""
    key = new_key()
    issued = issue_certificate(
        key, la_code=la, la_name=f"Test LA {la}", email=f"cme@la{la}.example"
    )
    return Identity(issued.certificate, key), issued.anchor


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PemIdentity]:
    """LA 807 (us), LA 806 (partner), an impostor for 806, 808 with an expired cert, and
    806 with a self-signed certificate of the older kind."""
    folder = tmp_path_factory.mktemp("pki")
    ours, our_anchor = make_issued("807")
    theirs, their_anchor = make_issued("806")
    return {
        "807": _write(ours, folder, "la807", our_anchor),
        "806": _write(theirs, folder, "la806", their_anchor),
        "806-self-signed": _write(make_identity("806"), folder, "la806-self-signed"),
        "impostor": _write(make_identity("806"), folder, "impostor"),
        "808-expired": _write(make_identity("808", expired=True), folder, "la808"),
    }


class Mailbox:
    """A real SMTP server on loopback that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, str]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"127.0.0.1:{port}"
    finally:
        controller.stop()

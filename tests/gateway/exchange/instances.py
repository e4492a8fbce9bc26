"""Two full gateway instances (LA 807 and LA 806) with their own homes, DBs and HTTPS."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.db import make_engine
from gateway.exchange.keys import init_keys, load_identity
from gateway.home import init_home
from gateway.settings import Settings, load_settings


@dataclass
class Instance:
    la: str
    home: Path
    settings: Settings
    engine: Engine
    server: BaseWSGIServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"https://127.0.0.1:{self.server.server_port}/exchange"

    def cert_pem(self) -> bytes:
        identity = load_identity(self.settings.keys_dir)
        return identity.certificate.public_bytes(serialization.Encoding.PEM)

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            assert self.thread is not None
            self.thread.join(5)
            self.server = None


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A throwaway server certificate for 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def env_for(la: str, home: Path, db_url: str, relay: str = "", **extra: str) -> dict[str, str]:
    return {
        "CME_HOME": str(home),
        "CME_LA_CODE": la,
        "CME_LA_NAME": f"Test LA {la}",
        "CME_DATABASE_URL": db_url,
        "CME_OUTBOX_FROM_ADDRESS": f"cme@la{la}.example",
        "CME_SMTP_RELAY": relay,
        **extra,
    }


def make_instance(la: str, root: Path, db_url: str, env: dict[str, str]) -> Instance:
    home = root / f"home{la}"
    settings = load_settings(env)
    init_home(settings)
    init_keys(settings.keys_dir, la_code=la, la_name=f"Test LA {la}", email=f"cme@la{la}.example")
    return Instance(la, home, settings, make_engine(db_url))


def serve(instance: Instance, tls: tuple[Path, Path]) -> None:
    from web.app import create_app

    app = create_app(instance.settings, instance.engine)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    instance.server, instance.thread = server, thread


@contextmanager
def running(*instances: Instance) -> Iterator[None]:
    try:
        yield
    finally:
        for inst in instances:
            inst.stop_server()
            inst.engine.dispose()

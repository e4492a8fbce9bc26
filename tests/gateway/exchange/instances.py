"""Two full gateway instances (LA 807 and LA 806) with their own homes, DBs and HTTPS.

Each serves its app as production does: waitress behind a TLS-ending front (here a small
asyncio proxy standing in for the reverse proxy), so kept-alive connections work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine

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
    server: TlsFront | None = None
    web: Any = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"https://127.0.0.1:{self.server.port}/exchange"

    def cert_pem(self) -> bytes:
        identity = load_identity(self.settings.keys_dir)
        return identity.certificate.public_bytes(serialization.Encoding.PEM)

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.web is not None:
            self.web.stop()
            self.web = None


class TlsFront:
    """Ends TLS on 127.0.0.1 and passes the bytes to a plain HTTP port, both ways."""

    def __init__(self, backend_port: int, context: ssl.SSLContext) -> None:
        self.backend_port = backend_port
        self.context = context
        #: TLS connections accepted (a kept-alive client opens few).
        self.accepted = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the TLS front did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    def drop_connections(self) -> None:
        """Close every open connection, as a proxy does to idle ones, and keep listening."""

        async def drop() -> None:
            for w in list(self._writers):
                w.close()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(30)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._writers):
                w.close()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=10)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


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
    from web.server import WebServer

    app = create_app(instance.settings, instance.engine)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    instance.web = WebServer(app, "127.0.0.1", 0, https=True).start()
    instance.server = TlsFront(instance.web.port, context)


@contextmanager
def running(*instances: Instance) -> Iterator[None]:
    try:
        yield
    finally:
        from gateway.exchange import transport_http

        transport_http.close_all()
        for inst in instances:
            inst.stop_server()
            inst.engine.dispose()

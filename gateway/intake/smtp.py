"""The SMTP listener (aiosmtpd): accept mail for our inboxes, store it durably, then say 250."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel
from gateway.settings import Settings

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Temporary failure storing the message; please try again later"


class SmtpConfigError(ValueError):
    """The SMTP listener's configuration cannot be used (certificate, users file)."""


@dataclass
class PeerLimits:
    """Connections and messages per minute per peer address, kept on the event loop."""

    max_connections: int
    max_per_minute: int
    connections: collections.Counter[str] = field(default_factory=collections.Counter)
    recent: dict[str, collections.deque[float]] = field(default_factory=dict)

    def open(self, peer: str) -> bool:
        if self.max_connections and self.connections[peer] >= self.max_connections:
            return False
        self.connections[peer] += 1
        return True

    def close(self, peer: str) -> None:
        self.connections[peer] -= 1
        if self.connections[peer] <= 0:
            del self.connections[peer]

    def allow_message(self, peer: str, now: float | None = None) -> bool:
        if not self.max_per_minute:
            return True
        now = time.monotonic() if now is None else now
        window = self.recent.setdefault(peer, collections.deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.max_per_minute:
            return False
        window.append(now)
        return True


def load_users(path: str) -> dict[str, str]:
    """`user:argon2-hash` lines; blank lines and # comments skipped."""
    users: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SmtpConfigError(f"smtp.auth_users_file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith("$argon2"):
            raise SmtpConfigError(
                f"smtp.auth_users_file {path} line {number}: expected user:$argon2... hash"
            )
        users[user] = hashed
    return users


class Authenticator:
    """Checks AUTH PLAIN/LOGIN against the users file (argon2 hashes, never plain text)."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.hasher = PasswordHasher()
        self.dummy = _dummy_hash(users)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        hashed = self.users.get(user)
        try:
            # An unknown name is checked against a dummy hash made with the same parameters,
            # so it takes as long as a wrong password and timing shows no one's account.
            self.hasher.verify(hashed or self.dummy, auth_data.password)
        except (VerificationError, InvalidHashError):
            return AuthResult(success=False, handled=False)
        if hashed is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=user)


def _dummy_hash(users: dict[str, str]) -> str:
    """A hash of a throwaway password, as costly to check as the accounts' own hashes."""
    hasher = PasswordHasher()
    for hashed in users.values():
        with contextlib.suppress(InvalidHashError):
            hasher = PasswordHasher.from_parameters(extract_parameters(hashed))
            break
    return hasher.hash(secrets.token_urlsafe(16))


class IntakeHandler:
    """aiosmtpd hooks: refuse early what we will never take; store the rest, then answer."""

    def __init__(self, settings: Settings, store: RawStore, limits: PeerLimits) -> None:
        self.inboxes = {a.strip().lower() for a in settings.core.inbox_addresses}
        self.store = store
        self.limits = limits
        self.offer_auth = bool(settings.smtp.auth_users_file)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if not self.offer_auth:
            return [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.limits.allow_message(_peer_host(session)):
            return "450 4.7.1 Too many messages from your address; try again in a minute"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.strip().lower() not in self.inboxes:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content
        if data is None:
            return TEMPFAIL
        arrival = Arrival(
            channel=IntakeChannel.SMTP,
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=_peer_host(session),
        )
        try:
            # 250 once the bytes are fsync'd; indexing and dispatch follow (see rawstore).
            sha256 = await asyncio.wrap_future(self.store.submit_durable(data, arrival))
        except Exception:
            log.exception("smtp: storing a message failed; answered 451")
            return TEMPFAIL
        return f"250 2.0.0 Stored {sha256[:16]}"

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default is 500, which makes the sender bounce the mail for good.
        log.error("smtp: internal error; answered 451", exc_info=error)
        return TEMPFAIL


def _peer_host(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


class IntakeSMTP(SMTP):
    """aiosmtpd's server with long lines and bare-LF bodies allowed, and per-peer limits."""

    def __init__(self, handler: IntakeHandler, *, limits: PeerLimits, **kwargs: Any) -> None:
        # The reader limit is the longest line accepted; scanners send whole bodies with
        # bare LFs, i.e. one "line", so allow up to the message size (552 past it).
        size = kwargs.get("data_size_limit") or 0
        self.line_length_limit = max(1001, int(size) + 1024)
        self.limits = limits
        self._peer_key: str | None = None
        self._refused = False
        super().__init__(handler, **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not the STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            key = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if not self.limits.open(key):
                self._refused = True
                log.warning("smtp: too many connections from one peer")
                writer: Any = transport
                writer.write(b"421 4.7.0 Too many connections from your address\r\n")
                writer.close()
                return
            self._peer_key = key
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._peer_key is not None:
            self.limits.close(self._peer_key)
            self._peer_key = None
        super().connection_lost(error)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The STARTTLS context from the configured certificate and key, if any."""
    if not settings.smtp.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.smtp.tls_cert, settings.smtp.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise SmtpConfigError(
            f"smtp.tls_cert/tls_key cannot be loaded ({settings.smtp.tls_cert}): {exc}"
        ) from None
    return context


class SmtpListener:
    """The listener on its own event-loop thread; `start()` returns once it accepts."""

    def __init__(
        self,
        settings: Settings,
        store: RawStore,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.host = host or settings.smtp.host
        self.port = settings.smtp.port if port is None else port
        self.limits = PeerLimits(
            settings.smtp.max_connections_per_peer, settings.smtp.max_messages_per_minute_per_peer
        )
        self.handler = IntakeHandler(settings, store, self.limits)
        tls = tls_context(settings)
        users = load_users(settings.smtp.auth_users_file) if settings.smtp.auth_users_file else {}
        self.smtp_kwargs: dict[str, Any] = {
            "data_size_limit": settings.smtp.max_message_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "hostname": _server_name(settings),
            "tls_context": tls,
            "require_starttls": settings.smtp.require_starttls and tls is not None,
            "auth_required": settings.smtp.auth_required,
            "auth_require_tls": True,
            "authenticator": Authenticator(users) if users else None,
            "auth_exclude_mechanism": [] if users else ["LOGIN", "PLAIN"],
        }
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.AbstractServer | None = None
        self.thread: threading.Thread | None = None
        self.bound: tuple[str, int] | None = None

    def _factory(self) -> IntakeSMTP:
        return IntakeSMTP(self.handler, limits=self.limits, loop=self.loop, **self.smtp_kwargs)

    def start(self) -> tuple[str, int]:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.server = loop.run_until_complete(
                    loop.create_server(self._factory, self.host, self.port, reuse_address=True)
                )
                sock = self.server.sockets[0].getsockname()
                self.bound = (str(sock[0]), int(sock[1]))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self.thread = threading.Thread(target=run, name="smtp", daemon=True)
        self.thread.start()
        ready.wait()
        if failure:
            raise SmtpConfigError(
                f"cannot listen for SMTP on {self.host}:{self.port}: {failure[0]}"
            ) from None
        assert self.bound is not None
        log.info("smtp listening", extra={"host": self.bound[0], "port": self.bound[1]})
        return self.bound

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let sessions in DATA finish for `grace` seconds, then stop."""
        loop, server = self.loop, self.server
        if loop is None or server is None or self.thread is None:
            return

        async def shutdown() -> None:
            server.close()
            deadline = loop.time() + grace
            while self.limits.connections and loop.time() < deadline:
                await asyncio.sleep(0.05)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self.thread.join(timeout=grace + 5)
        self.thread = None


def _server_name(settings: Settings) -> str:
    for address in settings.core.inbox_addresses:
        domain = address.rpartition("@")[2]
        if domain:
            return domain
    return "cme-gateway"

"""HTTPS transport: POST the sealed bytes to a partner's /exchange, get a sealed receipt.

One TLS connection per partner address is kept open and reused from message to message
(a handshake and a new TCP connection cost more than the message itself on loopback).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from gateway.settings import Settings

CONTENT_TYPE = "application/pkcs7-mime; smime-type=signed-data"
MAX_ANSWER_BYTES = 1024 * 1024
#: Extra CA certificates for partners' HTTPS endpoints (e.g. a regional CA), if present.
CA_FILE = "https-ca.pem"
#: Idle kept-alive connections held for one partner address; more are opened and closed.
MAX_IDLE = 4

#: post(url, body) -> the response body; raises OSError when the partner is unreachable.
Poster = Callable[[str, bytes], bytes]

#: A kept-alive connection the partner closed while it sat idle fails like this on reuse.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def tls_context(settings: Settings) -> ssl.SSLContext:
    cafile = settings.home / "exchange" / CA_FILE
    context = ssl.create_default_context()
    if cafile.exists():
        context.load_verify_locations(cafile=str(cafile))
    return context


class Connections:
    """Kept-alive HTTPS connections, an idle few per partner address (host, port)."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self.context = context
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int], list[http.client.HTTPSConnection]] = {}
        #: TLS connections opened so far (the tests check that they are reused).
        self.opened = 0

    def _take(self, address: tuple[str, int]) -> tuple[http.client.HTTPSConnection, bool]:
        with self._lock:
            idle = self._idle.get(address)
            if idle:
                return idle.pop(), True
            self.opened += 1
        host, port = address
        conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.context)
        return conn, False

    def _give_back(self, address: tuple[str, int], conn: http.client.HTTPSConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(address, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def post(self, url: str, body: bytes) -> bytes:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise OSError(f"refusing to post to a non-HTTPS address {url}")
        address = (parts.hostname, parts.port or 443)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        while True:
            conn, reused = self._take(address)
            try:
                return self._exchange(address, conn, target, body)
            except _STALE:
                conn.close()
                # Only a reused connection is tried again, and once per idle one: the
                # partner closed it while idle. Were the message taken in before that,
                # the partner answers its resend with the stored receipt.
                if not reused:
                    raise OSError("partner closed the connection without answering") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if isinstance(exc, OSError):
                    raise
                raise OSError(f"partner's answer is not HTTP: {type(exc).__name__}") from None

    def _exchange(
        self,
        address: tuple[str, int],
        conn: http.client.HTTPSConnection,
        target: str,
        body: bytes,
    ) -> bytes:
        conn.request("POST", target, body=body, headers={"Content-Type": CONTENT_TYPE})
        resp = conn.getresponse()
        answer = resp.read(MAX_ANSWER_BYTES + 1)
        if len(answer) > MAX_ANSWER_BYTES or not resp.isclosed():
            conn.close()  # not read to its end: the connection cannot carry another request
            if len(answer) > MAX_ANSWER_BYTES:
                raise OSError("partner's answer is larger than any receipt")
        elif resp.will_close:
            conn.close()
        else:
            self._give_back(address, conn)
        if resp.status >= 400:
            raise OSError(f"partner answered HTTP {resp.status}")
        return bytes(answer)


_clients: dict[tuple[str, tuple[int, int] | None, float], Connections] = {}
_clients_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def connections(settings: Settings, timeout: float = 30.0) -> Connections:
    """This home's kept-alive connections, made again when its CA file changes."""
    cafile = settings.home / "exchange" / CA_FILE
    key = (str(cafile), _stamp(cafile), timeout)
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = Connections(tls_context(settings), timeout)
            for old in [k for k in _clients if k[0] == key[0] and k != key]:
                _clients.pop(old).close()
    return found


def close_all() -> None:
    """Close every kept-alive connection (at shutdown, and between tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def poster(settings: Settings, timeout: float = 30.0) -> Poster:
    return connections(settings, timeout).post

"""The production WSGI server (waitress) for the console, stopped cleanly on SIGTERM."""

from __future__ import annotations

import errno
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from gateway.settings import Settings

log = logging.getLogger(__name__)

#: How long a stop waits for requests already being answered.
DRAIN_SECONDS = 10.0


class WebServer:
    """A waitress server on its own thread, with a stop that lets running requests finish."""

    def __init__(
        self, app: Flask, host: str, port: int, *, https: bool = False, trusted_proxy: str = ""
    ) -> None:
        self.app = app
        # Behind a reverse proxy every request comes from the proxy: trust its
        # X-Forwarded-For (and only its) so sign-in throttling sees each client's address.
        proxy: dict[str, Any] = (
            {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": {"x-forwarded-for"}}
            if trusted_proxy
            else {}
        )
        server = create_server(
            app,
            host=host,
            port=port,
            threads=8,
            ident="cme",
            # TLS ends at the reverse proxy; this makes Flask build https:// URLs.
            url_scheme="https" if https else "http",
            clear_untrusted_proxy_headers=True,
            **proxy,
        )
        if not isinstance(server, BaseWSGIServer):  # pragma: no cover - one listen address
            raise RuntimeError("the console listens on exactly one address")
        self.server: BaseWSGIServer = server
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._closed_outside = False

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def host(self) -> str:
        return str(self.server.effective_host)

    def run(self) -> None:
        """Serve until stop() is called (from another thread or a signal handler)."""
        try:
            self.server.run()
        except OSError as exc:
            # stop() without the wake-up pipe closes the sockets from outside the loop, so
            # the loop's select can find them gone: that is the end asked for, not a fault.
            if not (self._closed_outside and exc.errno == errno.EBADF):
                raise
        finally:
            self._stopped.set()

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self.run, name="web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        # Stop taking work, let the worker threads finish what they hold, then close every
        # socket from inside the server's own loop (the only thread that may touch them).
        self.server.task_dispatcher.shutdown(timeout=DRAIN_SECONDS)
        if not self._stopped.is_set():
            try:
                self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
            except OSError:
                # The loop's wake-up pipe is already closed (seen once in a full test run):
                # close what is left from here; the loop ends when its map is empty.
                log.warning("web console stopping without its wake-up pipe")
                self._closed_outside = True
                wasyncore.close_all(self.server._map, ignore_all=True)
        self._stopped.wait(DRAIN_SECONDS)
        if self._thread is not None:
            self._thread.join(DRAIN_SECONDS)
        close_app(self.app)


def close_app(app: Flask) -> None:
    """Release what the app holds open: the raw store's writer (flushes what it queued)."""
    store: Any = app.extensions.pop("cme.rawstore", None)
    if store is not None:
        store.close()


def serve(app: Flask, host: str, port: int, *, https: bool = False) -> None:
    """Serve in the foreground until SIGTERM or SIGINT, then stop cleanly."""
    web = WebServer(app, host, port, https=https)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("web console stopping", extra={"signal": signum})
        # stop() waits for the loop this thread is running, so it must run elsewhere.
        threading.Thread(target=web.stop, name="web-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("web console listening", extra={"host": web.host, "port": web.port})
    try:
        web.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_app(app)


def start_web(settings: Settings, engine: Engine) -> Callable[[], None]:
    """For `cme run`: the console on web.host:web.port in the background; returns its stop."""
    from web.app import create_app

    web = WebServer(
        create_app(settings, engine),
        settings.web.host,
        settings.web.port,
        https=settings.web.https,
        trusted_proxy=settings.web.trusted_proxy,
    ).start()
    log.info("web console listening", extra={"host": web.host, "port": web.port})
    return web.stop

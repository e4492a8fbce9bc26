"""`cme run`: every component of the service in one process, stopped cleanly on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from sqlalchemy import Engine

import gateway.exchange.service  # registers exchange retries and monitoring
import gateway.intake.dispatch  # registers the dispatch job
import gateway.matching.candidates  # registers the match refresh job
import gateway.timers  # noqa: F401  (registers the periodic work)
from gateway import jobs
from gateway.intake.parsing import close_pools
from gateway.jobs import run_worker
from gateway.settings import Settings

log = logging.getLogger(__name__)

Stop = Callable[[], None]


@dataclass
class Service:
    settings: Settings
    engine: Engine
    stop_event: threading.Event = field(default_factory=threading.Event)
    stops: list[tuple[str, Stop]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start_worker(self) -> None:
        t = threading.Thread(
            target=run_worker,
            args=(self.engine, self.settings, self.stop_event),
            name="jobs",
            daemon=True,
        )
        t.start()
        self.threads.append(t)

    def add(self, name: str, stop: Stop) -> None:
        self.stops.append((name, stop))

    def shutdown(self) -> None:
        self.stop_event.set()
        jobs.notify()  # an idle worker waits for work, not for the stop event
        for name, stop in reversed(self.stops):
            try:
                stop()
            except Exception:
                log.exception("error while stopping a component", extra={"component": name})
        for t in self.threads:
            t.join(timeout=30)
        close_pools()  # the parser processes, once the worker no longer reads with them


def run(
    settings: Settings,
    engine: Engine,
    components: list[tuple[str, Callable[[Settings, Engine], Stop]]],
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Start the worker and each component, then wait for SIGTERM or SIGINT."""
    service = Service(settings, engine)

    def _signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signum})
        service.stop_event.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    try:
        service.start_worker()
        for name, start in components:
            service.add(name, start(settings, engine))
            if ready:
                ready(name)
        if ready:
            ready("worker")
        service.stop_event.wait()
    finally:
        service.shutdown()

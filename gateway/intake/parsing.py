"""Reading stored mail for dispatch: its MIME facts and the referral parser's draft.

The reading is a pure function of the message's bytes, so it can run anywhere. A batch
runs it in parser processes beside the worker (`jobs.parser_processes` of them): the worker
goes on with the previous message's database work while the next one is parsed on the other
core, and a message that crashes the parser (a fault in C code, memory run out) takes down
only its parser process, never `cme run`; that message is held, the rest are read again.
With `parser_processes = 0` the worker reads them itself, as a single dispatch always does.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
import pickle
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from gateway.intake.message import MessageFacts, read_message

#: What reading gives: the facts or the exception reading raised, and (for a message that
#: may be a new referral) the referral parser's values or the exception it raised.
Reading = tuple[MessageFacts | Exception, dict[str, Any] | Exception | None]


class ParserCrashed(RuntimeError):
    """The parser process died reading this message, alone in a fresh process."""


def read_mail(data: bytes, *, referral: bool = True) -> Reading:
    """The facts, and with `referral` the referral parser's reading when the message may be
    a new referral (not too large, not S/MIME, a bounce or an auto-reply)."""
    try:
        facts = read_message(data)
    except Exception as exc:
        return exc, None
    if not referral or facts.too_large or facts.smime or facts.bounce or facts.auto_reply:
        return facts, None
    from gateway.intake.referral import read_referral

    try:
        read: dict[str, Any] | Exception = read_referral(facts, data)
    except Exception as exc:
        read = exc
    return facts, read


def _portable(exc: Exception) -> Exception:
    """The exception as it can cross back to the worker: as raised when it survives a
    pickle round trip, else a RuntimeError naming its type (the reason an officer sees)."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own bytes of a moment ago)
    except Exception:
        return RuntimeError(type(exc).__name__)
    return exc


def read_in_child(data: bytes) -> Reading:
    """`read_mail` in a parser process: what it gives, made to cross back."""
    facts, read = read_mail(data)
    if isinstance(facts, Exception):
        facts = _portable(facts)
    if isinstance(read, Exception):
        read = _portable(read)
    return facts, read


#: How often a parser process checks that the process that started it is alive: a worker
#: killed outright (SIGKILL) cannot stop its parsers, so they stop themselves.
_PARENT_CHECK_SECONDS = 1.0


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ParserPool:
    """Parser processes, started when first needed (spawned: nothing of the worker's
    threads, locks or database connections is inherited) and started again after a crash."""

    def __init__(self, processes: int, reader: Callable[[bytes], Reading] | None = None) -> None:
        self.processes = processes
        self._reader = reader or read_in_child  # a module-level function (it is pickled)
        self._executor: ProcessPoolExecutor | None = None
        #: The executor each pending reading was given to: a crash restarts only that one.
        self._origin: weakref.WeakKeyDictionary[Future[Reading], ProcessPoolExecutor] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        # A multiprocessing child waits at exit for its own children, these among them: a
        # finalizer stops them first (atexit does it in any other process), before the
        # executor's queues close theirs (priority 10) and the stop could no longer be sent.
        multiprocessing.util.Finalize(self, self.close, exitpriority=20)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def _restart(self, broken: ProcessPoolExecutor | None) -> None:
        """Stop a broken executor; the next submission starts a fresh one. A newer one
        (started after another reading found this one broken) is left as it is."""
        if broken is None:
            return
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=True, cancel_futures=True)

    def submit(self, data: bytes) -> Future[Reading]:
        for _ in range(2):  # a pool found broken on submit is started again once
            executor = self._pool()
            try:
                future = executor.submit(self._reader, data)
            except BrokenProcessPool:
                self._restart(executor)
                continue
            with self._lock:
                self._origin[future] = executor
            return future
        raise BrokenProcessPool("the parser processes cannot be started")

    def outcome(self, future: Future[Reading], data: bytes) -> Reading:
        """The reading a submitted message got. When its parser process died, the message
        is read again alone in a fresh one: a crash then is its own (it is held), and a
        message that only shared a process with the one that crashed is read as usual."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._restart(self._origin.get(future))
        retry: Future[Reading] | None = None
        try:
            retry = self.submit(data)
            return retry.result()
        except BrokenProcessPool:
            self._restart(None if retry is None else self._origin.get(retry))
            return ParserCrashed("the parser process stopped while reading it"), None

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_POOLS: dict[int, ParserPool] = {}
_POOLS_LOCK = threading.Lock()


def parser_pool(processes: int) -> ParserPool | None:
    """The process-wide pool of this many parser processes; None for 0 (read in-thread)."""
    if processes <= 0:
        return None
    with _POOLS_LOCK:
        pool = _POOLS.get(processes)
        if pool is None:
            pool = _POOLS[processes] = ParserPool(processes)
        return pool


def _forget_pools_in_child() -> None:
    """A forked process (a test harness, a bench worker) inherits the pools but none of
    their threads: it starts its own parser processes when it needs them, and never touches
    its parent's."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_in_child)


@atexit.register
def close_pools() -> None:
    """Stop every parser process (at exit, and when `cme run` stops)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.close()

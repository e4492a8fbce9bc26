"""The IMAP poller: read a shared mailbox, store each message durably, then move it away.

Order per batch: fetch with BODY.PEEK (nothing marked), store and commit, move to the
Processed (or Quarantine) folder, then advance the cursor. A crash anywhere in between
leaves the message in the inbox; fetched again, it dedupes on its SHA-256 in the raw
store and is moved, so it is neither lost nor stored twice.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import Engine, select

from gateway.db import session_scope
from gateway.intake.rawstore import Arrival, RawStore, Stored
from gateway.models.intake import ImapCursor, IntakeChannel
from gateway.settings import Imap, Settings

log = logging.getLogger(__name__)

FETCH_BATCH = 25
IDLE_RENEW_SECONDS = 600.0  # re-issue IDLE well inside the 29 minutes servers allow
BACKOFF_MAX_SECONDS = 300.0


class ImapConfigError(ValueError):
    """The IMAP settings are incomplete; the message names the missing key."""


@dataclass(frozen=True)
class PollReport:
    fetched: int
    stored: int
    duplicates: int
    quarantined: int


#: Called after a batch is stored and before it is moved (tests crash the process here).
AfterStore = Callable[[list[int]], None]


class ImapPoller:
    """One mailbox folder, watched with IDLE (or polled), on a background thread."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        store: RawStore,
        *,
        after_store: AfterStore | None = None,
    ) -> None:
        cfg = settings.imap
        if (
            not cfg.host
            or not cfg.user
            or not (cfg.password or cfg.oauth2_token or cfg.oauth2_token_file)
        ):
            raise ImapConfigError(
                "imap needs host, user and a password or an OAuth2 token (CME_IMAP_HOST, "
                "CME_IMAP_USER, CME_IMAP_PASSWORD / CME_IMAP_OAUTH2_TOKEN / "
                "CME_IMAP_OAUTH2_TOKEN_FILE)"
            )
        self.settings = settings
        self.engine = engine
        self.store = store
        self.after_store = after_store
        self.account = f"{cfg.user}@{cfg.host}:{cfg.port}"
        self.client: IMAPClient | None = None
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    # -- connection ----------------------------------------------------------------------

    def connect(self) -> IMAPClient:
        cfg = self.settings.imap
        context = ssl.create_default_context() if cfg.ssl else None
        client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.ssl, ssl_context=context, timeout=60)
        try:
            token = _oauth2_token(cfg)
            if token:
                client.oauth2_login(cfg.user, token)
            else:
                client.login(cfg.user, cfg.password)
            for folder in (cfg.processed_folder, cfg.quarantine_folder):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
        except BaseException:
            _logout(client)
            raise
        self.client = client
        return client

    def disconnect(self) -> None:
        if self.client is not None:
            _logout(self.client)
            self.client = None

    # -- one pass ------------------------------------------------------------------------

    def poll_once(self) -> PollReport:
        """Take every message now in the folder; connects first if needed."""
        client = self.client or self.connect()
        cfg = self.settings.imap
        info = client.select_folder(cfg.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        last_uid = self._cursor(uidvalidity)
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        fetched = stored = duplicates = quarantined = 0
        for start in range(0, len(uids), FETCH_BATCH):
            if self.stop_event.is_set():
                break
            batch = uids[start : start + FETCH_BATCH]
            response = client.fetch(batch, ["BODY.PEEK[]", "RFC822.SIZE"])
            pending: list[tuple[int, Any]] = []
            for uid in batch:
                item = response.get(uid)
                if item is None or b"BODY[]" not in item:
                    continue  # expunged by someone else meanwhile
                data = bytes(item[b"BODY[]"])
                arrival = Arrival(
                    channel=IntakeChannel.IMAP,
                    peer=cfg.host,
                    source_ref=f"imap:{self.account}/{cfg.folder};UIDVALIDITY={uidvalidity};"
                    f"UID={uid}",
                )
                pending.append((uid, self.store.submit(data, arrival)))
                fetched += 1
            results: dict[int, Stored] = {uid: future.result() for uid, future in pending}
            if self.after_store is not None:
                self.after_store(list(results))
            too_big = [
                uid
                for uid in results
                if int(response[uid].get(b"RFC822.SIZE", 0)) > self.settings.smtp.max_message_size
            ]
            ordinary = [uid for uid in results if uid not in too_big]
            if ordinary:
                client.move(ordinary, cfg.processed_folder)
            if too_big:
                client.move(too_big, cfg.quarantine_folder)
            self._advance(uidvalidity, max(batch))
            stored += sum(1 for r in results.values() if not r.duplicate)
            duplicates += sum(1 for r in results.values() if r.duplicate)
            quarantined += len(too_big)
        return PollReport(fetched, stored, duplicates, quarantined)

    def _cursor(self, uidvalidity: int) -> int:
        folder = self.settings.imap.folder
        with session_scope(self.engine) as session:
            cursor = session.execute(
                select(ImapCursor).where(
                    ImapCursor.account == self.account, ImapCursor.folder == folder
                )
            ).scalar_one_or_none()
            if cursor is None:
                session.add(
                    ImapCursor(account=self.account, folder=folder, uidvalidity=uidvalidity)
                )
                return 0
            if cursor.uidvalidity != uidvalidity:
                # The server renumbered the folder: old UIDs mean nothing now. Start over;
                # the raw store's dedupe keeps anything already taken from being stored twice.
                log.warning("imap UIDVALIDITY changed; rescanning the folder")
                cursor.uidvalidity = uidvalidity
                cursor.last_uid = 0
            return int(cursor.last_uid)

    def _advance(self, uidvalidity: int, uid: int) -> None:
        folder = self.settings.imap.folder
        with session_scope(self.engine) as session:
            cursor = session.execute(
                select(ImapCursor).where(
                    ImapCursor.account == self.account, ImapCursor.folder == folder
                )
            ).scalar_one()
            if cursor.uidvalidity == uidvalidity and uid > cursor.last_uid:
                cursor.last_uid = uid

    # -- the loop ------------------------------------------------------------------------

    def wait_for_mail(self) -> None:
        """IDLE until the server reports news (or a renewal is due); else sleep a poll."""
        cfg = self.settings.imap
        client = self.client
        if client is None or not cfg.idle or b"IDLE" not in client.capabilities():
            self.stop_event.wait(cfg.poll_seconds)
            return
        client.idle()
        try:
            deadline = time.monotonic() + IDLE_RENEW_SECONDS
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                if client.idle_check(timeout=0.5):
                    break
        finally:
            client.idle_done()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                report = self.poll_once()
                backoff = 1.0
                if report.fetched:
                    log.info("imap messages taken", extra={"messages": report.fetched})
                    # Mail that landed during the pass was announced in the replies to its
                    # FETCH and MOVE, which IDLE would not repeat: look again at once. Only a
                    # pass that found nothing ends on its SEARCH, so IDLE hears of what is next.
                    continue
                self.wait_for_mail()
            except Exception as exc:  # any failure: drop the connection, back off, try again
                log.warning(
                    "imap poll failed; reconnecting",
                    extra={"error_type": type(exc).__name__, "retry_seconds": backoff},
                )
                self.disconnect()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
        self.disconnect()

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="imap", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            self.thread = None


def _oauth2_token(cfg: Imap) -> str:
    """The bearer token for XOAUTH2: the file is read afresh at every connection, since
    access tokens (Microsoft 365's last an hour) are renewed outside the gateway."""
    if cfg.oauth2_token_file:
        try:
            return Path(cfg.oauth2_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImapConfigError(
                f"imap.oauth2_token_file {cfg.oauth2_token_file}: {exc.strerror}"
            ) from None
    return cfg.oauth2_token


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # a dead connection cannot say goodbye; nothing is lost by that
        with contextlib.suppress(Exception):  # already closed
            client.shutdown()

"""The IMAP poller against a real Dovecot: store, then move; a crash in between loses nothing."""

from __future__ import annotations

import dataclasses
import time

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.intake.imap import ImapPoller
from gateway.intake.rawstore import RawStore
from gateway.models.intake import RawMessage
from gateway.settings import Settings
from tests.fixtures import mail
from tests.support.dovecot import Dovecot


class Crash(Exception):
    pass


def _settings(base: Settings, dovecot: Dovecot) -> Settings:
    return dataclasses.replace(
        base,
        imap=dataclasses.replace(
            base.imap, enabled=True, host="127.0.0.1", port=dovecot.port, ssl=False,
            user=dovecot.user, password=dovecot.password, poll_seconds=0.2,
        ),
    )  # fmt: skip


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count(RawMessage.id))).scalar_one())


def _folder(client: IMAPClient, name: str) -> int:
    client.select_folder(name, readonly=True)
    return len(client.search())


def test_poll_stores_then_moves_to_processed(
    intake_settings: Settings, dovecot: Dovecot, mailbox: IMAPClient, engine: Engine,
    store: RawStore,
) -> None:  # fmt: skip
    for n in range(30):
        mailbox.append("INBOX", mail.referral(n))
    poller = ImapPoller(_settings(intake_settings, dovecot), engine, store)
    report = poller.poll_once()
    poller.disconnect()
    assert (report.fetched, report.stored) == (30, 30)
    assert (_folder(mailbox, "INBOX"), _folder(mailbox, "Processed")) == (0, 30)
    assert _count(engine) == 30
    with Session(engine) as s:
        row = s.execute(select(RawMessage).order_by(RawMessage.id)).scalars().first()
        assert row is not None and store.read(row) == mail.referral(0)
        assert row.channel == "imap" and "UID=" in (row.source_ref or "")


def test_crash_between_store_and_move_neither_loses_nor_duplicates(
    intake_settings: Settings, dovecot: Dovecot, mailbox: IMAPClient, engine: Engine,
    store: RawStore,
) -> None:  # fmt: skip
    for n in range(10):
        mailbox.append("INBOX", mail.referral(n))
    settings = _settings(intake_settings, dovecot)

    def crash(_uids: list[int]) -> None:
        raise Crash

    crashing = ImapPoller(settings, engine, store, after_store=crash)
    with pytest.raises(Crash):
        crashing.poll_once()
    crashing.disconnect()
    assert _folder(mailbox, "INBOX") == 10  # still there: nothing moved before the crash
    stored_before = _count(engine)
    assert stored_before >= 1
    poller = ImapPoller(settings, engine, store)
    report = poller.poll_once()
    poller.disconnect()
    assert report.duplicates == stored_before
    assert _count(engine) == 10
    assert (_folder(mailbox, "INBOX"), _folder(mailbox, "Processed")) == (0, 10)


def test_idle_picks_up_new_mail_and_stop_is_prompt(
    intake_settings: Settings, dovecot: Dovecot, mailbox: IMAPClient, engine: Engine,
    store: RawStore,
) -> None:  # fmt: skip
    poller = ImapPoller(_settings(intake_settings, dovecot), engine, store)
    poller.start()
    try:
        time.sleep(0.5)
        mailbox.append("INBOX", mail.referral(42))
        deadline = time.monotonic() + 15
        while _count(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine) == 1
    finally:
        thread = poller.thread
        poller.stop()  # IDLE is interrupted: the thread ends, not left behind by the join
        assert thread is not None and not thread.is_alive()


def test_mail_that_lands_during_a_pass_is_taken_without_waiting_for_idle(
    intake_settings: Settings, dovecot: Dovecot, mailbox: IMAPClient, engine: Engine,
    store: RawStore,
) -> None:  # fmt: skip
    """A message appended while a batch is being stored is announced in the replies to that
    pass's commands, not again in IDLE: the poller must look again before idling (else it
    waits for a keep-alive or the 10-minute IDLE renewal)."""
    mailbox.append("INBOX", mail.referral(1))
    landed: list[int] = []

    def another_arrives(_uids: list[int]) -> None:
        if not landed:
            landed.append(1)
            mailbox.append("INBOX", mail.referral(2))

    poller = ImapPoller(
        _settings(intake_settings, dovecot), engine, store, after_store=another_arrives
    )
    poller.start()
    try:
        deadline = time.monotonic() + 60  # generous: the pass after the first takes it at once
        while _count(engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine) == 2
    finally:
        poller.stop()
    assert (_folder(mailbox, "INBOX"), _folder(mailbox, "Processed")) == (0, 2)


def test_uidvalidity_change_rescans_without_duplicating(
    intake_settings: Settings, dovecot: Dovecot, mailbox: IMAPClient, engine: Engine,
    store: RawStore,
) -> None:  # fmt: skip
    settings = _settings(intake_settings, dovecot)
    mailbox.append("INBOX", mail.referral(1))
    poller = ImapPoller(settings, engine, store)
    poller.poll_once()
    # Same message put back (as after a server restore) under a renumbered folder.
    mailbox.append("INBOX", mail.referral(1))
    from gateway.models.intake import ImapCursor

    with Session(engine) as s:
        cursor = s.execute(select(ImapCursor)).scalar_one()
        cursor.uidvalidity = 1
        cursor.last_uid = 10_000
        s.commit()
    report = poller.poll_once()
    poller.disconnect()
    assert (report.fetched, report.duplicates) == (1, 1)
    assert _count(engine) == 1

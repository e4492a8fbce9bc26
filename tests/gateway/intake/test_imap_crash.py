"""The promise over IMAP: SIGKILL `cme run` while it reads a real Dovecot mailbox that keeps
receiving mail; nothing lost, nothing stored, dispatched or moved twice."""

from __future__ import annotations

from pathlib import Path

from imapclient import IMAPClient

from tests.support.dovecot import Dovecot
from tests.support.imapcrash import run_imap_crash


def test_sigkill_during_imap_intake_loses_and_duplicates_nothing(
    tmp_path: Path, dovecot: Dovecot, mailbox: IMAPClient, db_url: str
) -> None:
    report = run_imap_crash(tmp_path / "home", dovecot, messages=150, kills=3, database_url=db_url)
    assert report.kills == 3
    assert report.kills_with_mail_waiting >= 1  # at least one kill came with work in hand
    assert report.caught_between_store_and_move >= 1  # ... and with mail stored, not yet moved
    assert report.missing == 0
    assert report.stored == report.messages  # once each, re-fetches after a kill deduplicated
    assert report.dispatched == report.stored
    # One referral per message (a case, or waiting in triage): no double dispatch.
    assert (report.referrals, report.referred_twice) == (report.messages, 0)
    assert (report.left_in_inbox, report.in_processed) == (0, report.messages)

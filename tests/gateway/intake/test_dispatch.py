"""Dispatch: replies threaded onto cases, auto-replies and bounces recorded, bad mail held."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import outbox
from gateway.cases.inputs import ReferralInput
from gateway.cases.service import log_referral
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.message import read_message
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import TimelineEntry
from gateway.models.intake import IntakeChannel, QuarantineEntry
from gateway.models.ops import OutboxMessage
from gateway.settings import Settings
from tests.fixtures import mail

REFERRER = "attendance@school-807.example"


def _case_with_letter(engine: Engine, settings: Settings) -> tuple[int, str]:
    with Session(engine, expire_on_commit=False) as s:
        case = log_referral(
            s,
            settings,
            ReferralInput(
                forename="Ava", surname="Testperson", dob=date(2015, 3, 1),
                referrer_email=REFERRER, received=date(2026, 11, 2),
            ),
            "test",
        )  # fmt: skip
        letter = outbox.queue(
            s, settings, kind="enquiry", to=[REFERRER], subject=f"[{case.tag}] Enquiry",
            body="Please tell us more.", case_id=case.id,
        )  # fmt: skip
        s.commit()
        return case.id, letter.message_id


def _dispatch(store: RawStore, engine: Engine, settings: Settings, data: bytes) -> dict:
    stored = store.store(data, Arrival(IntakeChannel.FILE))
    with Session(engine, expire_on_commit=False) as s:
        result = dispatch_safely(s, settings, stored.raw_id)
        s.commit()
    return result.as_dict()


def _timeline_kinds(engine: Engine, case_id: int) -> list[str]:
    with Session(engine) as s:
        return list(
            s.execute(select(TimelineEntry.kind).where(TimelineEntry.case_id == case_id)).scalars()
        )


def test_reply_to_our_letter_goes_on_the_case_and_the_officer_is_told(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id, letter_id = _case_with_letter(engine, intake_settings)
    result = _dispatch(store, engine, intake_settings, mail.reply(letter_id))
    assert (result["outcome"], result["case_id"]) == ("reply", case_id)
    assert "email_reply" in _timeline_kinds(engine, case_id)
    with Session(engine) as s:
        notice = s.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "officer_notice")
        ).scalar_one()
    assert notice.subject == f"[CME-{case_id}] Reply received"
    assert b"Ava" not in notice.raw and b"Testperson" not in notice.raw


def test_subject_tag_counts_only_from_a_sender_already_on_the_case(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id, _ = _case_with_letter(engine, intake_settings)
    known = _dispatch(store, engine, intake_settings, mail.tagged(case_id, sender=REFERRER))
    assert (known["outcome"], known["case_id"]) == ("reply", case_id)
    stranger = _dispatch(
        store, engine, intake_settings, mail.tagged(case_id, sender="who@elsewhere.example")
    )
    assert stranger["outcome"] != "reply" and stranger["case_id"] != case_id


def test_auto_reply_is_recorded_and_never_answered(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id, letter_id = _case_with_letter(engine, intake_settings)
    with Session(engine) as s:
        before = len(s.execute(select(OutboxMessage)).all())
    result = _dispatch(store, engine, intake_settings, mail.auto_reply(letter_id))
    assert (result["outcome"], result["case_id"]) == ("auto_reply", case_id)
    assert "auto_reply" in _timeline_kinds(engine, case_id)
    with Session(engine) as s:
        assert len(s.execute(select(OutboxMessage)).all()) == before


def test_bounce_of_our_letter_marks_it_undelivered(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id, letter_id = _case_with_letter(engine, intake_settings)
    result = _dispatch(store, engine, intake_settings, mail.bounce(letter_id))
    assert (result["outcome"], result["case_id"]) == ("bounce", case_id)
    with Session(engine) as s:
        letter = s.execute(
            select(OutboxMessage).where(OutboxMessage.message_id == letter_id)
        ).scalar_one()
    assert letter.status == "undelivered"


def test_a_readable_message_with_a_winmail_dat_beside_it_waits_in_triage(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    data = mail.with_attachment("winmail.dat", b"\x78\x9f\x3e\x22", "application/ms-tnef")
    assert _dispatch(store, engine, intake_settings, data)["outcome"] == "triage"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00 not a message at all \x00\r\n", "no_headers"),
        (mail.with_attachment("setup.exe", b"MZ\x90\x00rest"), "executable_attachment"),
        (mail.with_attachment("form.pdf", b"MZ\x90\x00disguised"), "executable_attachment"),
        (mail.nested(200), "mime_too_deep"),
    ],
)
def test_unreadable_or_suspicious_mail_is_quarantined_with_its_reason(
    store: RawStore, engine: Engine, intake_settings: Settings, data: bytes, reason: str | None
) -> None:
    result = _dispatch(store, engine, intake_settings, data)
    assert result["outcome"] == "quarantined"
    if reason is not None:
        assert result["reason"] == reason
    with Session(engine) as s:
        held = s.execute(select(QuarantineEntry)).scalar_one()
    assert held.raw_id == result["raw_id"] and held.status == "open"


def test_attachment_over_the_cap_is_quarantined(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    import dataclasses

    small = dataclasses.replace(
        intake_settings, smtp=dataclasses.replace(intake_settings.smtp, max_message_size=50_000)
    )
    result = _dispatch(store, engine, small, mail.with_attachment("scan.pdf", b"%PDF" * 20_000))
    assert (result["outcome"], result["reason"]) == ("quarantined", "attachment_too_large")


def test_dispatch_is_idempotent(store: RawStore, engine: Engine, intake_settings: Settings) -> None:
    case_id, letter_id = _case_with_letter(engine, intake_settings)
    stored = store.store(mail.reply(letter_id), Arrival(IntakeChannel.SMTP))
    for _ in range(3):
        with Session(engine) as s:
            dispatch_safely(s, intake_settings, stored.raw_id)
            s.commit()
    assert _timeline_kinds(engine, case_id).count("email_reply") == 1


@given(st.binary(max_size=3000))
def test_reading_any_bytes_never_raises(data: bytes) -> None:
    facts = read_message(data)
    assert isinstance(facts.subject, str)


@given(
    st.lists(
        st.sampled_from([b"From: a@b\r\n", b"Subject: x\r\n", b"\r\n", b"--q\r\n",
                         b'Content-Type: multipart/mixed; boundary="q"\r\n', b"--q--\r\n",
                         b"\x00", b"body\r\n", b"Content-Transfer-Encoding: base64\r\n",
                         b"=?utf-8?b?////?=\r\n"]),
        max_size=30,
    )
)  # fmt: skip
def test_malformed_mime_never_crashes_the_reader(parts: list[bytes]) -> None:
    read_message(b"".join(parts))


def test_new_referral_becomes_a_case_with_a_further_enquiries_task(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    from gateway.models.case import Task

    result = _dispatch(store, engine, intake_settings, mail.referral(3))
    assert result["outcome"] == "case" and result["case_id"] is not None
    with Session(engine) as s:
        kinds = set(s.execute(select(Task.kind).where(Task.case_id == result["case_id"])).scalars())
    assert "further_enquiries" in kinds  # the parser found gaps (school, reason, name)


def test_second_referral_of_the_same_child_is_attached_to_the_open_case(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    first = _dispatch(store, engine, intake_settings, mail.referral(3))
    second = _dispatch(
        store, engine, intake_settings, mail.referral(3, sender="office@school-805.example")
    )
    assert (second["outcome"], second["case_id"]) == ("case", first["case_id"])


def test_a_message_that_is_not_a_referral_waits_for_the_officer_in_triage(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    note = (
        b"From: someone@school-806.example\r\nTo: cme@redcar-cleveland.example\r\n"
        b"Subject: hello\r\n\r\nJust saying hello.\r\n"
    )
    result = _dispatch(store, engine, intake_settings, note)
    # Readable and harmless: not for the quarantine. The officer dismisses it in triage.
    assert (result["outcome"], result["case_id"]) == ("triage", None)


def test_a_message_with_nothing_to_read_is_held(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    empty = (
        b"From: someone@school-806.example\r\nTo: cme@redcar-cleveland.example\r\n"
        b"Subject: hello\r\n\r\n\r\n"
    )
    result = _dispatch(store, engine, intake_settings, empty)
    assert (result["outcome"], result["reason"]) == ("quarantined", "referral_unreadable")


def test_a_batch_holds_only_the_message_that_fails(
    store: RawStore, engine: Engine, intake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatched together (one transaction, a savepoint each): one message whose dispatch
    breaks half-way is held with the reason, its half-done work undone; the rest go on."""
    from gateway import jobs
    from gateway.intake import referral
    from gateway.models.intake import RawMessage
    from gateway.models.ops import Job
    from gateway.models.referral import Referral

    stored = [store.store(mail.referral(500 + n), Arrival(IntakeChannel.SMTP)) for n in range(6)]
    bad = stored[3].raw_id
    real = referral.receive

    def breaks_for_one(session: Session, settings: Settings, values: dict, **kw: object) -> object:
        routed = real(session, settings, values, **kw)  # type: ignore[arg-type]
        if kw.get("raw_id") == bad:
            raise RuntimeError("the disk went away")  # after the referral was written
        return routed

    monkeypatch.setattr(referral, "receive", breaks_for_one)
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)  # however loaded the machine is
    assert jobs.run_batch(engine, intake_settings) == 6  # one batch
    with Session(engine) as s:
        rows = {r.id: r for r in s.execute(select(RawMessage)).scalars()}
        referred = set(s.execute(select(Referral.raw_id)).scalars())
        statuses = set(s.execute(select(Job.status).where(Job.kind == "intake.dispatch")).scalars())
        held = s.execute(select(QuarantineEntry.raw_id)).scalars().all()
    assert rows[bad].outcome == "quarantined" and held == [bad]
    assert referred == {one.raw_id for one in stored} - {bad}  # the bad one's referral undone
    good = [one.raw_id for one in stored if one.raw_id != bad]
    assert all(rows[raw_id].outcome in ("case", "triage") for raw_id in good)
    assert statuses == {"done"}


def test_the_worker_is_woken_by_the_index_commit_not_the_poll(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    import dataclasses
    import threading
    import time

    from gateway import jobs
    from gateway.models.intake import RawMessage

    # A poll of an hour: within the waits below only the raw store's wake-up can dispatch.
    slow = dataclasses.replace(
        intake_settings, jobs=dataclasses.replace(intake_settings.jobs, poll_seconds=3600)
    )
    stop = threading.Event()
    worker = threading.Thread(target=jobs.run_worker, args=(engine, slow, stop), daemon=True)
    worker.start()

    def dispatched(raw_id: int, limit: float = 120) -> bool:
        deadline = time.monotonic() + limit  # generous: only a missing wake-up reaches it
        while time.monotonic() < deadline:
            with Session(engine) as s:
                if s.get(RawMessage, raw_id).outcome is not None:  # type: ignore[union-attr]
                    return True
            time.sleep(0.05)
        return False

    try:
        for n in range(3):
            stored = store.store(mail.referral(900 + n), Arrival(IntakeChannel.SMTP))
            assert dispatched(stored.raw_id), "the index commit did not wake the worker"
    finally:
        stop.set()
        jobs.notify()
        worker.join(timeout=60)
    assert not worker.is_alive()  # and the stop's notify ended its wait

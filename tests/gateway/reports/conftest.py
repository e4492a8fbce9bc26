"""A term of casework with known answers, built through the real services at frozen times.

The autumn term 2026 (1 September to 31 December; academic year 2026/27), seen from Monday
7 December 2026 unless a test travels on. Every figure the report tests expect is worked out
by hand from the story below.

- A  Ava (F, 2015-03-01): email, safeguarding, child protection plan, 7 Sep. Locating 8 Sep,
     assessing needs 12 Oct (located: 35 days), securing a place 2 Nov, closed on roll in this
     LA 16 Nov with start date 16 Nov (placed: 70 days). Officer: olivia.
- B  Ben (M, 2012-05-10, Year 10): phone, 14 Sep, "Not seen since the summer, unable to
     contact family", referrer by email (progress update due 28 Sep, never sent). Locating 15
     Sep, whereabouts unknown 29 Sep, escalated to the VEMT panel 20 Oct (review 14 Dec).
     Officer: oscar. Open: 84 days on 7 Dec.
- C  Cal (M, stored Year 3): a school's deletion return, 5 Oct, "Removed from roll after 20
     days' absence". Checking status 6 Oct, locating 30 Nov. Not allocated. Open: 63 days.
- D  Dee (F, 2016-01-20): form, 15 Jun (last academic year), locating 16 Jun, securing a
     place 30 Jun, placed and monitoring 10 Sep, closed on roll in LA 806 on 20 Nov
     (placed: 158 days). Officer: olivia.
- E  Eve (F, 2014-02-02): email, urgent, 2 Nov, "Family moved out; new address believed to be
     in Sunderland, not confirmed". Locating 3 Nov, moved out 9 Nov (located: 7 days),
     monitored with 806 (Middlesbrough) from 9 Nov. Officer: olivia. Open, not missing.
- F  Fay (F): email, 21 Sep, "Not on roll at any school", closed not CME 25 Sep.
- G  Gia (F): form, safeguarding, 1 Sep; on the EHE register (entry confirmed) and closed as
     EHE 1 Oct: on the EHE register with concerns.
- H  Hal (M): email, 2 Sep; on the EHE register, closed as EHE 2 Oct: no concerns.
- A referral from another LA, 10 Oct, "Moved into the area from Leeds", dismissed (no case).
- Exchange: our enquiry to 806 on 1 Oct answered 3 Oct (2 days); our enquiry to 808 on 10 Nov
  unanswered; 805's enquiry to us on 20 Oct (a move in) answered by us 12 hours later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.cases import allocation, service, steps
from gateway.cases.inputs import ReferralInput
from gateway.db import make_engine, session_scope
from gateway.models.exchange import ExchangeMessage, ExchangePartner, Monitoring
from gateway.models.matching import MatchDecision, RegisterEntry
from gateway.models.referral import Referral
from gateway.settings import Settings, load_settings
from gateway.users import Role, add_user

LONDON = ZoneInfo("Europe/London")
TODAY = date(2026, 12, 7)
TERM = "2026-autumn"


def at(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=LONDON)


@dataclass
class World:
    settings: Settings
    engine: Engine
    ids: dict[str, int]

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def _referral(**values: Any) -> ReferralInput:
    values.setdefault("surname", "Testchild")
    return ReferralInput(**values)


def build(settings: Settings, engine: Engine) -> dict[str, int]:
    ids: dict[str, int] = {}

    def on(when: datetime, fn: Callable[[Session], Any]) -> Any:
        with time_machine.travel(when, tick=False), session_scope(engine) as s:
            return fn(s)

    def open_case(key: str, when: datetime, **values: Any) -> None:
        received = when.date()
        data = _referral(received=received, **values)
        ids[key] = on(when, lambda s: service.log_referral(s, settings, data, "tester").id)

    def move(key: str, when: datetime, status: str) -> None:
        on(when, lambda s: service.move_case(s, settings, ids[key], status, "tester"))

    def close(key: str, when: datetime, outcome: str, **detail: Any) -> None:
        on(when, lambda s: service.close_case(s, settings, ids[key], outcome, detail, "tester"))

    def allocate(key: str, when: datetime, who: str) -> None:
        on(when, lambda s: allocation.allocate(s, ids[key], who, "manager"))

    def users(s: Session) -> None:
        for name in ("olivia", "oscar"):
            add_user(s, username=name, password="a-long-test-password", role=Role.OFFICER,
                     display_name=f"{name.title()} Officer", totp=False, actor="test")  # fmt: skip
        partner = ExchangePartner(la_code="806", name="Middlesbrough", email="cme@806.example",
                                  cert_pem="-", fingerprint="f" * 64,
                                  not_after=at(2030, 1, 1))  # fmt: skip
        s.add(partner)

    on(at(2026, 6, 1), users)

    # D: last academic year, placed and closed this term.
    open_case("D", at(2026, 6, 15), forename="Dee", channel="form", sex="F",
              dob=date(2016, 1, 20), reason="Moved into the area, no school place")  # fmt: skip
    allocate("D", at(2026, 6, 15, 11), "olivia")
    move("D", at(2026, 6, 16), "locating")
    move("D", at(2026, 6, 30), "securing_place")
    move("D", at(2026, 9, 10), "placed_monitoring")

    open_case("G", at(2026, 9, 1), forename="Gia", channel="form", sex="F",
              dob=date(2015, 6, 1), urgency="safeguarding",
              reason="Home educated; concerns raised by the health visitor")  # fmt: skip
    open_case("H", at(2026, 9, 2), forename="Hal", channel="email", sex="M",
              dob=date(2014, 6, 1), reason="Parent says the child is home educated")  # fmt: skip
    open_case("A", at(2026, 9, 7), forename="Ava", channel="email", sex="F",
              dob=date(2015, 3, 1), urgency="safeguarding", flags={"child_protection": True},
              reason="Moved, destination unknown")  # fmt: skip
    allocate("A", at(2026, 9, 7, 11), "olivia")
    move("A", at(2026, 9, 8), "locating")
    open_case("B", at(2026, 9, 14), forename="Ben", channel="phone", sex="M",
              dob=date(2012, 5, 10), referrer_email="head@school.example",
              reason="Not seen since the summer, unable to contact family")  # fmt: skip
    allocate("B", at(2026, 9, 14, 11), "oscar")
    move("B", at(2026, 9, 15), "locating")
    open_case("F", at(2026, 9, 21), forename="Fay", channel="email", sex="F",
              reason="Not on roll at any school")  # fmt: skip
    close("F", at(2026, 9, 25), "not_cme")
    move("B", at(2026, 9, 29), "whereabouts_unknown_tracking")

    def ehe(key: str, when: datetime, forename: str) -> None:
        def go(s: Session) -> None:
            entry = RegisterEntry(register="ehe", batch_sha256="e" * 64, source_name="ehe.csv",
                                  line=1, imported_by="test", surname="Testchild",
                                  forename=forename, dob=date(2015, 6, 1),
                                  from_date=when.date())  # fmt: skip
            s.add(entry)
            s.flush()
            s.add(MatchDecision(query_ref=f"case:{ids[key]}", target_kind="ehe",
                                target_ref=f"ehe:{entry.id}", verdict="confirmed",
                                decided_by="tester"))  # fmt: skip
            service.close_case(s, settings, ids[key], "ehe_notified",
                               {"register_entry": entry.id}, "tester")  # fmt: skip

        on(when, go)

    ehe("G", at(2026, 10, 1), "Gia")
    ehe("H", at(2026, 10, 2), "Hal")
    open_case("C", at(2026, 10, 5), forename="Cal", channel="school_deletion_return", sex="M",
              year_group="3", reason="Removed from roll after 20 days' absence")  # fmt: skip
    move("C", at(2026, 10, 6), "checking_status")

    def dismissed(s: Session) -> None:
        s.add(Referral(channel="other_la", received_on=date(2026, 10, 10),
                       triage_status="dismissed", reason="Moved into the area from Leeds",
                       created_by="tester"))  # fmt: skip

    on(at(2026, 10, 10), dismissed)
    move("A", at(2026, 10, 12), "assessing_needs")
    on(at(2026, 10, 20), lambda s: steps.escalate(
        s, settings, ids["B"], flag="vemt", reason="Possible exploitation",
        review_on=date(2026, 12, 14), actor="tester"))  # fmt: skip
    move("A", at(2026, 11, 2), "securing_place")
    moved = "Family moved out; new address believed to be in Sunderland, not confirmed"
    open_case("E", at(2026, 11, 2), forename="Eve", channel="email", sex="F",
              dob=date(2014, 2, 2), urgency="urgent", reason=moved)  # fmt: skip
    allocate("E", at(2026, 11, 2, 11), "olivia")
    move("E", at(2026, 11, 3), "locating")
    move("E", at(2026, 11, 9), "moved_out_tracking")
    on(at(2026, 11, 9), lambda s: s.add(Monitoring(case_id=ids["E"], partner_la="806",
                                                   next_check_at=at(2026, 12, 7))))  # fmt: skip
    close("A", at(2026, 11, 16), "on_roll_this_la", school="8073001", start_date="2026-11-16")
    close("D", at(2026, 11, 20), "on_roll_other_la", la_code="806")
    move("C", at(2026, 11, 30), "locating")

    def message(s: Session, direction: str, doc_type: str, la: str, when: datetime,
                reply_to: str | None = None) -> str:  # fmt: skip
        mid = str(uuid.uuid4())
        s.add(ExchangeMessage(direction=direction, message_id=mid, partner_la=la,
                              doc_type=doc_type, in_reply_to=reply_to, channel="https",
                              status="delivered", document=b"-", wire=b"-", wire_sha256="0" * 64,
                              created_at=when))  # fmt: skip
        return mid

    def exchange(s: Session) -> None:
        ours = message(s, "out", "enquiry", "806", at(2026, 10, 1, 9))
        message(s, "in", "reply", "806", at(2026, 10, 3, 9), reply_to=ours)
        message(s, "out", "enquiry", "808", at(2026, 11, 10, 9))
        theirs = message(s, "in", "enquiry", "805", at(2026, 10, 20, 8))
        message(s, "out", "reply", "805", at(2026, 10, 20, 20), reply_to=theirs)

    on(at(2026, 12, 1), exchange)
    return ids


@pytest.fixture
def world(cme_home: Path) -> Iterator[World]:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    ids = build(settings, engine)
    yield World(settings, engine, ids)
    engine.dispose()


@pytest.fixture
def on_today() -> Iterator[None]:
    with time_machine.travel(at(2026, 12, 7, 10), tick=False):
        yield

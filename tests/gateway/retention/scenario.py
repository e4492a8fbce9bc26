"""A closed case with one of every kind of record under it, about a child with a synthetic
name nobody else has, and the searches that prove the name is gone after disposal."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from gateway import disclosures
from gateway.cases import service
from gateway.cases.inputs import ReferralInput
from gateway.cases.merge import merge_cases
from gateway.db import session_scope
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import CaseFact, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from gateway.models.exchange import ExchangeMessage, Monitoring, Proposal, QuarantinedMessage
from gateway.models.intake import IntakeChannel, QuarantineEntry, RawMessage
from gateway.models.matching import MatchCandidate, MatchDecision
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings

FORENAME = "Zephyrine"
SURNAME = "Quillfeatherby"
NAME = f"{FORENAME} {SURNAME}"


def email(
    n: int, body: str, *, subject: str = "CME referral", reply_to: str | None = None
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "attendance@school-807.example"
    msg["To"] = "cme@redcar-cleveland.example"
    msg["Subject"] = f"{subject} {n}"
    msg["Message-ID"] = f"<retention-{n}@school-807.example>"
    if reply_to:
        msg["In-Reply-To"] = reply_to
    msg.set_content(body)
    msg.add_attachment(
        f"Form: {NAME}, Sibling Bram {SURNAME}\n".encode(),
        maintype="text",
        subtype="plain",
        filename="form.txt",
    )
    return msg.as_bytes(policy=SMTP)


def referral_input(
    forename: str = FORENAME,
    surname: str = SURNAME,
    *,
    dob: date | None,
    received: date,
    flags: dict[str, bool] | None = None,
) -> ReferralInput:
    return ReferralInput(
        forename=forename,
        surname=surname,
        dob=dob,
        received=received,
        channel="email",
        postcode="TS10 1AA",
        address_line1=f"1 {surname} Row",
        town="Redcar",
        reason=f"{forename} has not attended since Easter",
        referrer_name="Pat Head",
        referrer_email="head@school-807.example",
        flags=flags or {},
        carers=({"name": f"Morwenna {surname}", "relationship": "mother", "phone": "01642 000"},),
        siblings=({"name": f"Bram {surname}", "dob": "2004-01-01", "school": "Hilltop"},),
    )


@dataclass
class Built:
    case_id: int
    merged_id: int
    referral_ids: list[int]
    raw_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def open_case(
    engine: Engine,
    settings: Settings,
    *,
    dob: date | None,
    received: date,
    flags: dict[str, bool] | None = None,
    forename: str = FORENAME,
    surname: str = SURNAME,
) -> int:
    with session_scope(engine) as session:
        case = service.log_referral(
            session,
            settings,
            referral_input(forename, surname, dob=dob, received=received, flags=flags),
            "tester",
        )
        return case.id


def close(engine: Engine, settings: Settings, case_id: int) -> None:
    with session_scope(engine) as session:
        service.close_case(session, settings, case_id, "left_england", {}, "tester", manager=None)


def build_full_case(
    engine: Engine, settings: Settings, store: RawStore, *, dob: date, received: date
) -> Built:
    """The case, a duplicate merged into it, and every kind of record under them."""
    case_id = open_case(engine, settings, dob=dob, received=received - timedelta(days=7))
    dup_id = open_case(engine, settings, dob=dob, received=received)
    with session_scope(engine) as session:
        merge_cases(session, case_id, dup_id, "tester")
    referral_mail = email(1, f"Child: {NAME}\nDOB: {dob.isoformat()}\n")
    reply_mail = email(2, f"{FORENAME} is living with her aunt.\n", reply_to="<x@y>")
    exchange_mail = email(3, f"<Surname>{SURNAME}</Surname>", subject="Exchange")
    raws = [store.store(m, Arrival(IntakeChannel.SMTP, "a@school-807.example")) for m in
            (referral_mail, reply_mail, exchange_mail)]  # fmt: skip
    raw_ids = [r.raw_id for r in raws]
    with session_scope(engine) as session:
        referrals = list(
            session.execute(
                select(Referral).where(Referral.case_id == case_id).order_by(Referral.id)
            ).scalars()
        )
        referrals[0].raw_id = raw_ids[0]
        reply = session.get(RawMessage, raw_ids[1])
        assert reply is not None
        reply.case_id = case_id
        session.add(QuarantineEntry(raw_id=raw_ids[1], reason="parse_defects", status="released"))
        rid = referrals[0].id
        session.add_all(
            [
                TimelineEntry(case_id=case_id, kind="note", summary=f"Spoke to {NAME}", actor="t"),
                Task(case_id=case_id, kind="home_visit", due=received, detail={"who": NAME}),
                CaseFact(
                    case_id=case_id, field="surname", value=SURNAME, source_ref=f"referral:{rid}"
                ),
                EnquiryLogEntry(
                    case_id=case_id, agency="health", method="phone", at=_at(received),
                    outcome=f"GP knows {NAME}", recorded_by="t",
                ),
                CaseStep(
                    case_id=case_id, kind="home_visit", on=received, note=f"{NAME} not home",
                    recorded_by="t",
                ),
                PrintedLetter(
                    case_id=case_id, referral_id=rid, kind="ack", subject="[CME] Letter",
                    body=f"About {NAME}",
                ),
                MatchCandidate(
                    query_ref="referral:999999", target_ref=f"case:{case_id}", target_kind="case",
                    score=9.0, probability=0.99, decision="proposed",
                    evidence=[{"field": "surname", "record_value": SURNAME}],
                ),
                MatchCandidate(
                    query_ref=f"case:{case_id}", target_ref="roll:1", target_kind="roll",
                    score=5.0, probability=0.6, decision="review",
                    evidence=[{"field": "surname", "query_value": SURNAME}],
                ),
                MatchDecision(
                    query_ref=f"referral:{rid}", target_kind="lost_pupil",
                    target_ref="lost_pupil:7", verdict="rejected",
                    evidence=[{"query_value": FORENAME}], decided_by="t",
                ),
                Monitoring(case_id=case_id, partner_la="806", next_check_at=_at(received)),
            ]
        )  # fmt: skip
        letter = OutboxMessage(
            kind="onward_admissions", case_id=case_id, to_addrs=["admissions@x.example"],
            subject=f"[CME-{case_id}] Referral", message_id=f"<onward-{case_id}@cme>",
            raw=f"Subject: x\r\n\r\nPlease admit {NAME}.\r\n".encode(),
        )  # fmt: skip
        session.add(letter)
        session.flush()
        session.add(
            OnwardReferral(
                case_id=case_id, team="admissions", channel="email", recipient="admissions@x",
                lawful_basis="public task", fields=["forename"], reason="needs a place",
                body=f"{NAME} needs a school place", outbox_id=letter.id, sent_by="t",
            )
        )  # fmt: skip
        inbound = ExchangeMessage(
            direction="in", message_id="11111111-1111-1111-1111-111111111111", partner_la="806",
            doc_type="reply", case_id=None, channel="mail", status="accepted",
            document=f"<Forename>{FORENAME}</Forename>".encode(), wire=exchange_mail,
            wire_sha256=hashlib.sha256(exchange_mail).hexdigest(),
        )  # fmt: skip
        outbound = ExchangeMessage(
            direction="out", message_id="22222222-2222-2222-2222-222222222222", partner_la="806",
            doc_type="enquiry", case_id=case_id, channel="mail", status="delivered",
            document=f"<Surname>{SURNAME}</Surname>".encode(), wire=b"sealed bytes",
            wire_sha256="0" * 64,
        )  # fmt: skip
        session.add_all([inbound, outbound])
        session.flush()
        session.add(
            Proposal(
                kind="case_update", message_id=inbound.id, case_id=case_id,
                detail={"note": f"{FORENAME} started school"},
            )
        )  # fmt: skip
        session.add(
            QuarantinedMessage(
                channel="mail", reason="refused", raw=exchange_mail, sha256="1" * 64,
                size=len(exchange_mail), prefix=exchange_mail[:64], raw_ref=f"raw:{raw_ids[2]}",
            )
        )  # fmt: skip
        disclosures.record(
            session, kind="enquiry", case_id=case_id, recipient="cme@la-806.example",
            basis=disclosures.LawfulBasis.PUBLIC_TASK, channel="mail", fields=["forename"],
            actor="t",
        )  # fmt: skip
        referral_ids = [r.id for r in referrals]
    close(engine, settings, case_id)
    return Built(case_id, dup_id, referral_ids, raw_ids)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def newer_records(engine: Engine, settings: Settings, store: RawStore, received: date) -> int:
    """Another child's case, referral and raw message, made after the rest: on SQLite the
    newest row of each is kept back (its id would be reused), and it must not be ours."""
    case_id = open_case(
        engine, settings, dob=date(2015, 1, 1), received=received, forename="Other",
        surname="Child",
    )  # fmt: skip
    store.store(email(99, "Another child entirely"), Arrival(IntakeChannel.SMTP))
    with session_scope(engine) as session:
        session.add(
            QuarantinedMessage(
                channel="https", reason="unsigned", raw=None, sha256="2" * 64, size=1,
                prefix=b"x", at=datetime(2099, 1, 1, tzinfo=UTC),  # never due in a test
            )
        )  # fmt: skip
    return case_id


def database_hits(engine: Engine, db_url: str, needle: str) -> list[str]:
    """Where `needle` appears in the database: on SQLite, anywhere in the bytes of the
    database file and its WAL; on PostgreSQL, in any column of any table (as text)."""
    if engine.dialect.name == "sqlite":
        path = Path(db_url.removeprefix("sqlite:///"))
        hits = []
        for candidate in (path, path.with_name(path.name + "-wal")):
            if candidate.exists() and needle.encode() in candidate.read_bytes():
                hits.append(candidate.name)
        return hits
    hits = []
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        ).all()
        for table, column, kind in columns:
            expr = (
                f"position(convert_to(:n, 'UTF8') in \"{column}\") > 0"
                if kind == "bytea"
                else f'strpos("{column}"::text, :n) > 0'
            )
            found = conn.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE {expr}'), {"n": needle}
            ).scalar_one()
            if found:
                hits.append(f"{table}.{column}")
    return hits


def file_hits(home: Path, needle: str, *, skip: tuple[Path, ...] = ()) -> list[str]:
    """Every file under the data home (raw segments, keys, anchors...) holding `needle`."""
    return sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and p not in skip and needle.encode() in p.read_bytes()
    )


def session_counts(session: Session, models: Sequence[type]) -> dict[str, int]:
    from sqlalchemy import func

    return {
        m.__tablename__: session.execute(select(func.count()).select_from(m)).scalar_one()  # type: ignore[attr-defined]
        for m in models
    }

"""Load the demo into a data home: refuse a home that holds cases (unless forced), mark it
as a demo, make the demo officer and manager, then build the records through the service's
own functions in the order a real authority's would have come to be.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.cases.workflow import CLOSED
from gateway.db import session_scope, utcnow
from gateway.demo.caseload import load_caseload
from gateway.demo.casework import Desk
from gateway.demo.history import load_history
from gateway.demo.marker import is_demo_home, read_mark, write_mark
from gateway.demo.partner_las import our_identity, pin_partners
from gateway.demo.people import People, school
from gateway.demo.referrals import (
    by_email,
    keyed_referrals,
    prose_from_the_public,
    safeguarding_email,
)
from gateway.demo.sources import import_lost_pupils, import_registers
from gateway.errors import UserError
from gateway.exchange.records import MonitoringStatus
from gateway.home import init_home, open_engine
from gateway.models.case import Case
from gateway.models.exchange import Monitoring
from gateway.models.referral import Referral, TriageStatus
from gateway.settings import Settings
from gateway.users import Role, add_user, find_user, set_password
from lost_pupil.models import LostPupil

OFFICER = "demo.officer"
MANAGER = "demo.manager"
USERS = ((OFFICER, Role.OFFICER, "Demo Officer"), (MANAGER, Role.MANAGER, "Demo Manager"))
#: Letters and digits nobody misreads (no 0/O, 1/l/I).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class DemoRefused(UserError):
    """The demo was not loaded; nothing was changed. The message says why and what to do."""


@dataclass(frozen=True)
class SignIn:
    role: str
    username: str
    password: str


@dataclass(frozen=True)
class DemoReport:
    home: Path
    load: int
    sign_ins: tuple[SignIn, ...]
    cases: int
    open_cases: int
    awaiting_triage: int
    lost_pupils: int
    partners: tuple[str, ...]
    monitored: int


def new_password() -> str:
    """Four groups of four (e.g. `k7vq-m3xd-9pfa-tr2w`): typed easily, 80 bits of chance."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def _count(session: Session, stmt: object) -> int:
    return int(session.execute(stmt).scalar_one())  # type: ignore[call-overload]


def check_home(session: Session, settings: Settings, *, force: bool) -> None:
    """Refuse (DemoRefused, nothing changed) a home with cases unless forced, and never take
    over an account of the same name in a home that is not a demo."""
    cases = _count(session, select(func.count()).select_from(Case))
    demo = is_demo_home(settings.home)
    if cases and not force:
        if demo:
            raise DemoRefused(
                f"{settings.home} already holds the demo ({cases} cases); "
                "`cme demo --force` loads it again beside them, with new passwords"
            )
        raise DemoRefused(
            f"{settings.home} already holds {cases} case{'' if cases == 1 else 's'}: the demo "
            "is loaded only into a home without cases (use --force to add invented data to it "
            "anyway)"
        )
    if not demo:
        taken = [name for name, _role, _display in USERS if find_user(session, name) is not None]
        if taken:
            raise DemoRefused(
                f"there is already a user called {taken[0]!r} in {settings.home}, which is not "
                "a demo home; the demo will not change that account"
            )


def _users(session: Session, actor: str) -> tuple[SignIn, ...]:
    """The demo officer and manager, password only, with new passwords each load."""
    out = []
    for username, role, display in USERS:
        password = new_password()
        if find_user(session, username) is None:
            add_user(
                session, username=username, password=password, role=role, display_name=display,
                totp=False, actor=actor,
            )  # fmt: skip
        else:
            set_password(session, username, password, actor=actor)
        out.append(SignIn(role.value, username, password))
    return tuple(out)


def load_demo(
    settings: Settings,
    *,
    force: bool = False,
    actor: str = "system:demo",
    starting: Callable[[], None] | None = None,
) -> DemoReport:
    """Load the demo (see the package's modules for what it holds); raises DemoRefused.

    `starting` is called once the home is found fit, before anything is written."""
    init_home(settings)
    engine = open_engine(settings)
    with session_scope(engine) as session:
        check_home(session, settings, force=force)
    if starting is not None:
        starting()
    mark = read_mark(settings.home)
    load = mark.loads if mark else 0
    today = utcnow().date()
    usernames = tuple(name for name, _r, _d in USERS)
    # Marked before anything is written, so no invented record is ever in an unmarked home.
    write_mark(settings.home, loads=load + 1, at=utcnow(), usernames=usernames)
    our_identity(settings)
    with session_scope(engine) as session:
        sign_ins = _users(session, actor)
        partners = pin_partners(session, settings)

    people = People(load, today)
    lost = [people.child() for _ in range(5)]
    on_roll = people.child(school_=school("8074961"))  # deleted there, on roll at 8074962
    in_ehe = [people.child(sex="F", forename="Maisie", age=(10, 12)), people.child()]
    with session_scope(engine) as session:
        import_lost_pupils(session, settings, lost, actor=OFFICER, today=today)
        import_registers(
            session, settings, roll=[on_roll, people.child(school_=school("8074962"))],
            roll_school="8074962", ehe=in_ehe, actor=OFFICER, today=today, load=load,
        )  # fmt: skip
    # The worker takes in what the files and registers hold before the cases arrive.
    jobs.drain(engine, settings)
    with session_scope(engine) as session:
        load_history(Desk(session, settings, OFFICER, MANAGER, today), people)
    with session_scope(engine) as session:
        desk = Desk(session, settings, OFFICER, MANAGER, today)
        caseload = load_caseload(desk, people, partners, lost=lost[0])
        keyed_referrals(
            desk, rekeyed=caseload.rekeyed, on_roll=on_roll, sparse=people.child(), received=today
        )
    by_email(
        engine,
        settings,
        [prose_from_the_public(in_ehe[0], load=load, today=today), safeguarding_email(lost[1])],
        load=load,
        day=today,
    )
    # What the worker would do next: the matching each new case and lost pupil queued.
    jobs.drain(engine, settings)
    with session_scope(engine) as session:
        return DemoReport(
            home=settings.home,
            load=load + 1,
            sign_ins=sign_ins,
            cases=_count(session, select(func.count()).select_from(Case)),
            open_cases=_count(
                session, select(func.count()).select_from(Case).where(Case.status != CLOSED)
            ),
            awaiting_triage=_count(
                session,
                select(func.count())
                .select_from(Referral)
                .where(Referral.triage_status == TriageStatus.AWAITING.value),
            ),
            lost_pupils=_count(session, select(func.count()).select_from(LostPupil)),
            partners=tuple(sorted(partners)),
            monitored=_count(
                session,
                select(func.count())
                .select_from(Monitoring)
                .where(Monitoring.status == MonitoringStatus.ACTIVE.value),
            ),
        )

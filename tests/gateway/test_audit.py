"""The audit chain detects any edited or deleted entry."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db import session_scope
from gateway.models.audit import AuditEntry


def _fill(engine: Engine, n: int = 5) -> None:
    with session_scope(engine) as session:
        for i in range(n):
            audit.record(
                session,
                actor="officer:a",
                action="case.view",
                entity="case",
                entity_id=i,
                detail={"i": i},
            )


def test_intact_chain_verifies(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        result = audit.verify(session)
    assert result.ok and result.entries == 5


def test_edited_entry_is_named(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        third = session.query(AuditEntry).order_by(AuditEntry.id).all()[2]
        session.execute(
            update(AuditEntry).where(AuditEntry.id == third.id).values(actor="someone:else")
        )
    with session_scope(engine) as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_id == third.id


def test_deleted_entry_is_detected(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        ids = [e.id for e in session.query(AuditEntry).order_by(AuditEntry.id)]
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    with session_scope(engine) as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_id == ids[2]


def test_rehashing_an_edit_still_breaks_the_next_link(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        entries = session.query(AuditEntry).order_by(AuditEntry.id).all()
        victim = entries[1]
        victim.detail = {"i": 99}
        victim.hash = audit._digest(
            victim.prev_hash,
            victim.at,
            victim.actor,
            victim.action,
            victim.entity,
            victim.entity_id,
            victim.detail,
        )
    with session_scope(engine) as session:
        result = audit.verify(session)
    assert not result.ok and result.first_bad_id == entries[2].id


def _entry(session: Session, i: int) -> AuditEntry:
    return audit.record(
        session, actor="officer:a", action="case.view", entity="case", entity_id=i, detail={}
    )


def test_an_entry_undone_with_its_savepoint_is_not_chained_to(engine: Engine) -> None:
    # The head a transaction appended is remembered; one undone with its savepoint is not.
    with session_scope(engine) as session:
        _entry(session, 1)
        with pytest.raises(RuntimeError), session.begin_nested():
            _entry(session, 2)
            _entry(session, 3)
            raise RuntimeError("undo")
        _entry(session, 4)
        with session.begin_nested():
            _entry(session, 5)
        _entry(session, 6)
    with session_scope(engine) as session:
        result = audit.verify(session)
        ids = [e.entity_id for e in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert result.ok and ids == ["1", "4", "5", "6"]


def test_a_rolled_back_transaction_leaves_the_next_one_on_the_chain(engine: Engine) -> None:
    with Session(engine) as session:
        _entry(session, 1)
        session.rollback()
        _entry(session, 2)
        session.commit()
        _entry(session, 3)
        session.commit()
    with session_scope(engine) as other:
        _entry(other, 4)
    with Session(engine) as session:
        _entry(session, 5)
        session.commit()
    with session_scope(engine) as session:
        result = audit.verify(session)
    assert result.ok and result.entries == 4

"""Delivery over HTTPS: one kept-alive connection per partner, the sender woken by a commit."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.db import session_scope
from gateway.exchange import smime, transport_http, working
from gateway.exchange.outbound import deliver_due
from gateway.exchange.partners import add_partner
from gateway.exchange.records import OutStatus
from gateway.exchange.sender import Sender
from gateway.models.exchange import ExchangeMessage
from tests.gateway.exchange.instances import (
    Instance,
    env_for,
    make_instance,
    running,
    serve,
    tls_files,
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    tls = tls_files(tmp_path)
    insts = []
    for la in ("807", "806"):
        url = f"sqlite:///{tmp_path / f'la{la}.db'}"
        insts.append(make_instance(la, tmp_path, url, env_for(la, tmp_path / f"home{la}", url)))
    a, b = insts
    with running(a, b):
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other in ((a, b), (b, a)):
            with session_scope(me.engine) as s:
                add_partner(
                    s, me.settings, la_code=other.la, name=f"Test LA {other.la}",
                    email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(), url=other.url,
                )  # fmt: skip
        yield a, b


def _case(inst: Instance) -> int:
    data = build_referral_input(
        {"forename": "Amelia", "surname": "Testington", "dob": "2014-05-06"},
        today=date.today(),
    )
    with session_scope(inst.engine) as s:
        return log_referral(s, inst.settings, data, "test:officer").id


def _send(inst: Instance, case_id: int) -> str:
    with session_scope(inst.engine) as s:
        return working.send_enquiry(s, inst.settings, case_id, "806", "test:officer").message_id


def _status(inst: Instance, message_id: str) -> str:
    with session_scope(inst.engine) as s:
        return s.execute(
            select(ExchangeMessage.status).where(ExchangeMessage.message_id == message_id)
        ).scalar_one()


def test_deliveries_reuse_one_tls_connection(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    case_id = _case(a)
    sent = []
    for _ in range(3):
        sent.append(_send(a, case_id))
        assert deliver_due(a.engine, a.settings).delivered == 1
    assert all(_status(a, m) == OutStatus.DELIVERED for m in sent)
    assert b.server is not None and b.server.accepted == 1
    assert transport_http.connections(a.settings).opened == 1


def test_a_connection_the_partner_closed_is_replaced(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    case_id = _case(a)
    _send(a, case_id)
    assert deliver_due(a.engine, a.settings).delivered == 1
    assert b.server is not None
    b.server.drop_connections()
    second = _send(a, case_id)
    assert deliver_due(a.engine, a.settings).delivered == 1
    assert _status(a, second) == OutStatus.DELIVERED
    assert b.server.accepted == 2


def test_the_sender_is_woken_by_the_commit_not_the_poll(pair: tuple[Instance, Instance]) -> None:
    a, _b = pair
    case_id = _case(a)
    # A poll of an hour: within the wait below only the commit's wake-up can deliver.
    slow = dataclasses.replace(
        a.settings, jobs=dataclasses.replace(a.settings.jobs, poll_seconds=3600)
    )
    sender = Sender(a.engine, slow).start()
    try:
        assert sender.wait_delivered(0, timeout=60)
        first = _send(a, case_id)
        assert sender.wait_delivered(1, timeout=120), "the commit did not wake the sender"
        second = _send(a, case_id)
        assert sender.wait_delivered(2, timeout=120), "the commit did not wake the sender"
    finally:
        sender.stop()
    assert _status(a, first) == _status(a, second) == OutStatus.DELIVERED


def test_a_rolled_back_enquiry_wakes_nobody_and_sends_nothing(
    pair: tuple[Instance, Instance],
) -> None:
    a, _b = pair
    case_id = _case(a)
    with pytest.raises(RuntimeError), session_scope(a.engine) as s:
        working.send_enquiry(s, a.settings, case_id, "806", "test:officer")
        raise RuntimeError("the officer's transaction fails")
    with session_scope(a.engine) as s:
        assert s.execute(select(ExchangeMessage)).first() is None
        assert "cme.exchange_queued" not in s.info


def _unbounded(data: bytes) -> bytes:
    return re.sub(rb"={15}\d+==", b"BOUNDARY", data)


@given(
    document=st.binary(max_size=3000),
    text=st.text(min_size=1, max_size=2000),
    filename=st.sampled_from(["enquiry.xml", "receipt.xml", "status-request.xml"]),
)
def test_the_payload_layer_is_what_the_email_package_writes(
    document: bytes, text: str, filename: str
) -> None:
    fast = smime.payload_entity(document, text, filename)
    assert _unbounded(fast) == _unbounded(smime._payload_by_email_package(document, text, filename))
    entity = smime.read_entity(fast)
    assert entity.document == document

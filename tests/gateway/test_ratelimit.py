"""The rate limiter: `limits` over our database, so every process counts the same attempts."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from limits.storage import storage_from_string
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.db import make_engine
from gateway.models.ratelimit import RateLimitCounter
from gateway.ratelimit import DatabaseStorage, Limiter, client_key, referrer_key
from gateway.settings import Limits, SettingsError, load_settings

START = 1_900_000_000.0


class Clock:
    """A clock the test moves by hand: no sleeping for a window to pass."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limits(**rules: str) -> Limits:
    return dataclasses.replace(load_settings({}).limits, **rules)


@pytest.fixture
def second_engine(db_url: str) -> Iterator[Engine]:
    """Another process's view of the same database: its own engine and pool."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def test_refused_past_the_limit_until_the_window_ends(engine: Engine) -> None:
    clock = Clock()
    limiter = Limiter(engine, _limits(refer_per_client="3 per hour"), clock=clock)
    assert [limiter.hit("refer_per_client", "192.0.2.1").allowed for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip
    clock.now += 600
    refused = limiter.hit("refer_per_client", "192.0.2.1")
    assert not refused.allowed
    assert refused.retry_after == 3000  # the hour that started with the first attempt
    # Another client is counted on its own.
    assert limiter.hit("refer_per_client", "192.0.2.2").allowed
    clock.now = START + 3600
    assert limiter.hit("refer_per_client", "192.0.2.1").allowed


def test_every_window_of_a_rule_counts(engine: Engine) -> None:
    clock = Clock()
    limiter = Limiter(engine, _limits(refer_per_referrer="2 per minute; 3 per day"), clock=clock)
    who = "email:nora@example.org"
    assert limiter.hit("refer_per_referrer", who).allowed
    assert limiter.hit("refer_per_referrer", who).allowed
    refused = limiter.hit("refer_per_referrer", who)
    assert not refused.allowed  # the minute is full (and a refused attempt still counts)
    assert refused.retry_after == 60
    clock.now += 60
    refused = limiter.hit("refer_per_referrer", who)
    assert not refused.allowed  # a new minute, but the day is full
    assert refused.retry_after == 86400 - 60


def test_test_counts_nothing(engine: Engine) -> None:
    limiter = Limiter(engine, _limits(exchange_refusals_per_peer="2 per hour"), clock=Clock())
    for _ in range(5):
        assert limiter.test("exchange_refusals_per_peer", "198.51.100.7").allowed
    limiter.hit("exchange_refusals_per_peer", "198.51.100.7")
    limiter.hit("exchange_refusals_per_peer", "198.51.100.7")
    assert not limiter.test("exchange_refusals_per_peer", "198.51.100.7").allowed


def test_two_limiters_on_one_database_agree(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()
    limits = _limits(refer_per_client="5 per hour")
    one = Limiter(engine, limits, clock=clock)
    two = Limiter(second_engine, limits, clock=clock)
    answers = [(one if i % 2 else two).hit("refer_per_client", "203.0.113.9") for i in range(6)]
    assert [a.allowed for a in answers] == [True] * 5 + [False]
    assert not one.hit("refer_per_client", "203.0.113.9").allowed
    assert not two.test("refer_per_client", "203.0.113.9").allowed


def test_concurrent_hits_from_two_engines_are_counted_exactly(
    engine: Engine, second_engine: Engine
) -> None:
    # Every increment is one atomic statement: 200 increments from 8 threads on two
    # engines give the counts 1..200, each exactly once, with no lost update.
    storages = [DatabaseStorage(engine=e, clock=Clock()) for e in (engine, second_engine)]
    seen: list[int] = []
    lock = threading.Lock()

    def work(storage: DatabaseStorage) -> None:
        mine = [storage.incr("LIMITER/concurrent", 3600) for _ in range(25)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=work, args=(storages[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(seen) == list(range(1, 201))
    assert storages[1].get("LIMITER/concurrent") == 200


def test_storage_is_registered_by_its_scheme(db_url: str) -> None:
    storage = storage_from_string(f"cmedb://{db_url}")
    assert isinstance(storage, DatabaseStorage)
    try:
        assert storage.check()
        assert storage.incr("LIMITER/k", 60) == 1
        assert storage.incr("LIMITER/k", 60, amount=2) == 3
        assert storage.get("LIMITER/k") == 3
        storage.clear("LIMITER/k")
        assert storage.get("LIMITER/k") == 0
    finally:
        storage.engine.dispose()
    with pytest.raises(ValueError, match="cmedb://"):
        DatabaseStorage("cmedb://")


def test_expired_counters_are_purged_and_keys_hold_no_address(engine: Engine) -> None:
    clock = Clock()
    limiter = Limiter(engine, _limits(refer_per_client="1 per minute"), clock=clock)
    for n in range(3):
        limiter.hit("refer_per_client", f"192.0.2.{n}")
    with Session(engine) as s:
        keys = list(s.execute(select(RateLimitCounter.key)).scalars())
    assert len(keys) == 3
    assert not any("192.0.2" in k for k in keys)
    clock.now += 3600  # past the purge interval: the next attempt sweeps old windows
    limiter.hit("refer_per_client", "192.0.2.200")
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(RateLimitCounter)).scalar() == 1


def test_a_broken_database_is_reported_not_allowed() -> None:
    from gateway.ratelimit import RateLimitUnavailable

    eng = make_engine("sqlite://")  # no tables: every statement fails
    limiter = Limiter(eng, _limits(), clock=Clock())
    with pytest.raises(RateLimitUnavailable):
        limiter.hit("refer_per_client", "192.0.2.1")
    eng.dispose()


def test_client_and_referrer_keys() -> None:
    assert client_key("192.0.2.10") == "192.0.2.10"
    assert client_key("::ffff:192.0.2.10") == "192.0.2.10"
    # One IPv6 host can use a whole /64: it is one client.
    assert (
        client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::1") == ("2001:db8:1:2::/64")
    )
    assert client_key(None) == client_key("not an address") == "unknown"
    assert referrer_key(" Nora@Example.ORG ", "01642 000000") == "email:nora@example.org"
    assert referrer_key("", "01642 000 000") == "phone:01642000000"
    assert referrer_key(None, None) is None


def test_limits_are_settings_with_environment_overrides() -> None:
    s = load_settings({"CME_LIMITS_REFER_PER_CLIENT": "2 per minute; 9 per day"})
    assert s.limits.refer_per_client == "2 per minute; 9 per day"
    with pytest.raises(SettingsError, match="CME_LIMITS_EXCHANGE_PER_PEER"):
        load_settings({"CME_LIMITS_EXCHANGE_PER_PEER": "lots"})
    with pytest.raises(SettingsError, match=r"limits\.refer_per_referrer"):
        load_settings({"CME_LIMITS_REFER_PER_REFERRER": "0 per hour"})
    with pytest.raises(SettingsError, match="refer_token_hours"):
        load_settings({"CME_LIMITS_REFER_TOKEN_HOURS": "0"})

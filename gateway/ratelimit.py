"""Rate limits every process agrees on: the `limits` library over a table in our database.

`limits` keeps its counters in a storage backend (memory, Redis, memcached...). None of
those is part of this service, so `DatabaseStorage` keeps them in `rate_limits`, each
change one atomic statement on SQLite and PostgreSQL alike. `Limiter` is what the rest
of the service calls: `hit(rule, who)` for an attempt that counts, `test(rule, who)` to
look without counting; a rule is a key of the `[limits]` settings.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, Table, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.models.ratelimit import RateLimitCounter
from gateway.settings import Limits

log = logging.getLogger(__name__)

Clock = Callable[[], float]

SCHEME = "cmedb"
#: Expired counters are deleted at most this often by one limiter (its clock, seconds).
PURGE_EVERY = 600.0


class RateLimitUnavailable(RuntimeError):
    """The counters cannot be read or written (the database is down)."""


class DatabaseStorage(Storage):
    """A `limits` storage over the `rate_limits` table (fixed-window counters only).

    Made directly with an engine (`DatabaseStorage(engine=...)`) or by URI through
    `limits.storage.storage_from_string("cmedb://<SQLAlchemy URL>")`.
    """

    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 - limits' registry reads this list
    _table = cast(Table, RateLimitCounter.__table__)

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        engine: Engine | None = None,
        clock: Clock = time.time,
        **options: float | str | bool,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if engine is None:
            prefix = f"{SCHEME}://"
            if not uri or not uri.startswith(prefix) or len(uri) == len(prefix):
                raise ValueError(f"a {SCHEME} storage needs {prefix}<database URL> or an engine")
            from gateway.db import make_engine

            engine = make_engine(uri[len(prefix) :])
        self.engine = engine
        self.clock = clock

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's window (a new window if it has expired): one statement."""
        now = self.clock()
        t = self._table
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t).values(key=key, count=amount, expires_at=now + expiry)
        expired = t.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                # Both right-hand sides see the row as it was before this statement.
                "count": case((expired, amount), else_=t.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=t.c.expires_at),
            },
        ).returning(t.c.count)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, key: str) -> int:
        t = self._table
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.c.count).where(t.c.key == key, t.c.expires_at > self.clock())
            ).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        now = self.clock()
        t = self._table
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.c.expires_at).where(t.c.key == key, t.c.expires_at > now)
            ).scalar()
        return float(value) if value is not None else now

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(func.count()).select_from(self._table)).scalar()
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(self._table)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self._table).where(self._table.c.key == key))

    def purge_expired(self) -> int:
        """Delete every counter whose window is over; returns how many went."""
        t = self._table
        with self.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.expires_at <= self.clock())).rowcount


@dataclass(frozen=True)
class Decision:
    """The answer to one attempt: allowed, or refused until `retry_after` seconds pass."""

    rule: str
    allowed: bool
    retry_after: int = 0


def client_key(address: str | None) -> str:
    """The client an address stands for: an IPv6 client by its /64 (one household or host)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def referrer_key(email: str | None, phone: str | None = None) -> str | None:
    """A referrer by their email address (any case), else their phone number's digits."""
    if email and email.strip():
        return "email:" + email.strip().lower()
    digits = "".join(c for c in phone or "" if c.isdigit())
    return f"phone:{digits}" if digits else None


def _hashed(identifier: str) -> str:
    # The table never holds an address or an email: a counter only needs to tell them apart.
    return hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32]


class Limiter:
    """The service's one rate limiter; rules are the `[limits]` settings by name."""

    def __init__(self, engine: Engine, limits: Limits, *, clock: Clock = time.time) -> None:
        self.storage = DatabaseStorage(engine=engine, clock=clock, wrap_exceptions=True)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.limits = limits
        self.clock = clock
        self._items: dict[str, list[RateLimitItem]] = {}
        self._purged_at = -math.inf

    def items(self, rule: str) -> list[RateLimitItem]:
        if rule not in self._items:
            spec = getattr(self.limits, rule, None)
            if not isinstance(spec, str):
                raise KeyError(f"no rate limit named {rule!r} in [limits]")
            self._items[rule] = parse_many(spec)
        return self._items[rule]

    def hit(self, rule: str, identifier: str) -> Decision:
        """Count one attempt by `identifier` under `rule`; refused if any window is full."""
        return self._decide(rule, identifier, count=True)

    def test(self, rule: str, identifier: str) -> Decision:
        """Would one more attempt be allowed? Counts nothing."""
        return self._decide(rule, identifier, count=False)

    def clear(self, rule: str, identifier: str) -> None:
        """Forget the attempts (e.g. an administrator lifting a block)."""
        who = _hashed(identifier)
        try:
            for item in self.items(rule):
                self.strategy.clear(item, rule, who)
        except StorageError as exc:
            raise RateLimitUnavailable(f"rate limits cannot be cleared: {exc}") from None

    def _decide(self, rule: str, identifier: str, *, count: bool) -> Decision:
        who = _hashed(identifier)
        items = self.items(rule)
        try:
            self._purge()
            refused = [
                item
                for item in items
                if not (
                    self.strategy.hit(item, rule, who)
                    if count
                    else self.strategy.test(item, rule, who)
                )
            ]
            if not refused:
                return Decision(rule, True)
            now = self.clock()
            wait = max(self.storage.get_expiry(item.key_for(rule, who)) for item in refused) - now
        except (StorageError, SQLAlchemyError) as exc:
            log.error("rate limits unavailable", extra={"rule": rule, "error": type(exc).__name__})
            raise RateLimitUnavailable("rate limits cannot be checked") from None
        log.info("rate limit reached", extra={"rule": rule})
        return Decision(rule, False, max(1, math.ceil(wait)))

    def _purge(self) -> None:
        now = self.clock()
        if now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            self.storage.purge_expired()

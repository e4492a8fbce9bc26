"""Rate-limit counters shared by every process: one fixed window per key."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class RateLimitCounter(Base):
    """Hits in the current window of one limit for one client; the key holds no raw address."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Unix seconds, as the `limits` library counts time; a past value means a new window.
    expires_at: Mapped[float] = mapped_column(Float, index=True)

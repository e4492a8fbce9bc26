"""One-time form tokens that have been spent: a public form page is sent once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class UsedFormToken(Base):
    """A form token spent by a submission, kept only while the token itself is still valid."""

    __tablename__ = "form_tokens_used"

    # The SHA-256 of the token's nonce, so the table cannot be used to forge a token.
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    form: Mapped[str] = mapped_column(String(30))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # What the submission was told (e.g. WEB-1A2B3C4D), so a second send can repeat it.
    reference: Mapped[str | None] = mapped_column(String(40))

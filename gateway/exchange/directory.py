"""The partner directory as the console shows it: each LA with its certificate's state."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.partners import Partner, expiry_warnings, get_partner, list_partners


class CertState(enum.StrEnum):
    VALID = "valid"
    EXPIRES_SOON = "expires_soon"  # within the configured warning days
    EXPIRED = "expired"


@dataclass(frozen=True)
class PartnerLine:
    partner: Partner
    state: CertState
    #: Whole days until the certificate expires (negative once it has).
    days_left: int

    @property
    def can_receive(self) -> bool:
        """Nothing is sealed for a certificate that has expired: they could not trust it."""
        return self.state is not CertState.EXPIRED

    @property
    def fingerprint_groups(self) -> str:
        """The SHA-256 pin in groups of four, as a person reads it out over the phone."""
        pin = self.partner.fingerprint
        return " ".join(pin[i : i + 4] for i in range(0, len(pin), 4))


def state_of(partner: Partner, now: datetime, warn_days: int) -> CertState:
    if partner.not_after <= now:
        return CertState.EXPIRED
    # The same rule as `cme partners list` warns by.
    if expiry_warnings([partner], now, warn_days):
        return CertState.EXPIRES_SOON
    return CertState.VALID


def directory(session: Session, now: datetime, warn_days: int) -> list[PartnerLine]:
    """Every active partner, by LA code, with the state of its pinned certificate."""
    return [
        PartnerLine(p, state_of(p, now, warn_days), (p.not_after - now).days)
        for p in list_partners(session)
    ]


def partner_line(session: Session, la_code: str, now: datetime, warn_days: int) -> PartnerLine:
    """One partner's line; ExchangeError when the LA is not in the directory."""
    p = get_partner(session, la_code)
    return PartnerLine(p, state_of(p, now, warn_days), (p.not_after - now).days)

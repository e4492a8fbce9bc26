"""The partner directory: other LAs' CME leads, each certificate pinned by SHA-256."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.exchange.errors import ExchangeError
from gateway.exchange.keys import fingerprint, load_certificate
from gateway.models.exchange import ExchangePartner
from gateway.settings import Settings

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Partner:
    la_code: str
    name: str
    email: str
    url: str | None
    fingerprint: str
    not_after: datetime
    certificate: x509.Certificate


@lru_cache(maxsize=256)
def _parsed(cert_pem: str) -> tuple[x509.Certificate, str]:
    # Parsing and hashing a certificate on every message costs more than the message's
    # own database work: keyed by the stored PEM, a changed row is parsed afresh.
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    return cert, fingerprint(cert)


def _to_partner(row: ExchangePartner) -> Partner:
    cert, pin = _parsed(row.cert_pem)
    if pin != row.fingerprint:
        # The stored PEM no longer matches its pin: refuse rather than trust it.
        raise ExchangeError(
            f"partner LA {row.la_code}: stored certificate does not match its pinned "
            "fingerprint; re-add the partner with `cme partners add`"
        )
    return Partner(row.la_code, row.name, row.email, row.url, row.fingerprint, row.not_after, cert)


def partners_file(settings: Settings) -> Path:
    return Path(settings.exchange.partners_file or settings.home / "partners.toml")


def add_partner(
    session: Session,
    settings: Settings,
    *,
    la_code: str,
    name: str,
    email: str,
    cert_bytes: bytes,
    url: str | None = None,
    expected_fingerprint: str | None = None,
) -> Partner:
    """Add or update a partner, pinning its certificate; rewrites the directory file."""
    if not (len(la_code) == 3 and la_code.isdigit()):
        raise ExchangeError(f"--la must be a 3-digit LA code, not {la_code!r}")
    if la_code == settings.core.la_code:
        raise ExchangeError(f"LA {la_code} is our own authority, not a partner")
    if not _EMAIL.match(email):
        raise ExchangeError(f"--email {email!r} is not an email address")
    if url is not None and not url.startswith("https://"):
        raise ExchangeError("--url must be an https:// address of the partner's /exchange endpoint")
    cert = load_certificate(cert_bytes)
    pin = fingerprint(cert)
    if expected_fingerprint and expected_fingerprint.replace(":", "").lower() != pin:
        raise ExchangeError(
            f"the certificate's SHA-256 fingerprint is {pin}, not the {expected_fingerprint} "
            "you were given; check with the partner before trusting it"
        )
    row = session.execute(
        select(ExchangePartner).where(ExchangePartner.la_code == la_code)
    ).scalar_one_or_none()
    if row is None:
        row = ExchangePartner(la_code=la_code)
        session.add(row)
    row.name = name
    row.email = email
    row.url = url
    row.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    row.fingerprint = pin
    row.not_after = cert.not_valid_after_utc
    row.active = True
    session.flush()
    write_directory(session, partners_file(settings))
    return _to_partner(row)


def list_partners(session: Session) -> list[Partner]:
    rows = session.execute(
        select(ExchangePartner).where(ExchangePartner.active).order_by(ExchangePartner.la_code)
    ).scalars()
    return [_to_partner(r) for r in rows]


def get_partner(session: Session, la_code: str) -> Partner:
    row = session.execute(
        select(ExchangePartner).where(ExchangePartner.la_code == la_code, ExchangePartner.active)
    ).scalar_one_or_none()
    if row is None:
        raise ExchangeError(
            f"LA {la_code} is not in the partner directory; add it with `cme partners add`"
        )
    return _to_partner(row)


def trusted_certificates(session: Session) -> list[x509.Certificate]:
    """Every pinned partner certificate: the only signers an inbound message may have."""
    return [p.certificate for p in list_partners(session)]


def partner_for_certificate(session: Session, cert: x509.Certificate) -> Partner:
    pin = fingerprint(cert)
    for partner in list_partners(session):
        if partner.fingerprint == pin:
            return partner
    raise ExchangeError("no partner has this certificate pinned")


def expiry_warnings(partners: list[Partner], now: datetime, warn_days: int) -> list[str]:
    """A line for each partner certificate that has expired or expires soon."""
    lines = []
    for p in partners:
        if p.not_after <= now:
            lines.append(
                f"LA {p.la_code} ({p.name}): certificate EXPIRED on {p.not_after:%Y-%m-%d}"
            )
        elif p.not_after - now <= timedelta(days=warn_days):
            days = (p.not_after - now).days
            lines.append(
                f"LA {p.la_code} ({p.name}): certificate expires in {days} days "
                f"({p.not_after:%Y-%m-%d}); ask them for the new one"
            )
    return lines


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_directory(session: Session, path: Path) -> None:
    """The directory as TOML (the DB is authoritative; the file is for people and import)."""
    out = ["# CME exchange partner directory (written by `cme partners add`).", ""]
    for p in list_partners(session):
        out += [
            "[[partner]]",
            f"la = {_quote(p.la_code)}",
            f"name = {_quote(p.name)}",
            f"email = {_quote(p.email)}",
        ]
        if p.url:
            out.append(f"url = {_quote(p.url)}")
        out.append(f"fingerprint = {_quote(p.fingerprint)}")
        pem = p.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        out.append(f'certificate = """\n{pem}"""')
        out.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(out), "utf-8")
    tmp.replace(path)


def import_directory(session: Session, settings: Settings, path: Path) -> list[Partner]:
    """Load a partner directory file; each certificate must match its pinned fingerprint."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ExchangeError(f"cannot read partner directory {path}: {exc}") from None
    added = []
    for i, entry in enumerate(data.get("partner", []), start=1):
        try:
            cert_text = entry["certificate"]
            if not cert_text.lstrip().startswith("-----BEGIN"):
                cert_text = (path.parent / cert_text).read_text("ascii")
            added.append(
                add_partner(
                    session,
                    settings,
                    la_code=str(entry["la"]),
                    name=entry["name"],
                    email=entry["email"],
                    url=entry.get("url"),
                    cert_bytes=cert_text.encode("ascii"),
                    expected_fingerprint=entry["fingerprint"],
                )
            )
        except KeyError as exc:
            raise ExchangeError(f"{path}: partner {i} lacks {exc}") from None
    return added

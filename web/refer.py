"""The public referral form: no sign-in, stored whole in the raw store before we say thanks.

Each page carries a one-time token (a page is sent once), and submissions are
rate-limited per client address and per referrer address, counted in the database.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import ServiceUnavailable

from gateway import formtokens
from gateway.db import utcnow
from gateway.formtokens import Claim, FormToken, FormTokenInvalid
from gateway.intake.rawstore import Arrival, RawStore, RawStoreError
from gateway.models.intake import IntakeChannel
from gateway.ratelimit import Decision, referrer_key
from parsers.identifiers import normalise_postcode
from web import ratelimit
from web.access import public
from web.db import engine, settings
from web.form_errors import FormErrors

bp = Blueprint("refer", __name__, url_prefix="/refer")

FIELDS: tuple[tuple[str, str, int], ...] = (
    # (form field, label in the stored message, most characters accepted)
    ("forename", "Child forename", 100),
    ("surname", "Child surname", 100),
    ("dob", "Date of birth", 10),
    ("address_line1", "Address", 200),
    ("town", "Town", 100),
    ("postcode", "Postcode", 10),
    ("school", "School", 200),
    ("reason", "Reason for referral", 5000),
    ("urgency", "Urgency", 20),
    ("referrer_name", "Referrer name", 200),
    ("referrer_role", "Referrer role", 200),
    ("referrer_organisation", "Referrer organisation", 200),
    ("referrer_email", "Referrer email", 254),
    ("referrer_phone", "Referrer phone", 40),
)
URGENCIES = {"routine": "Routine", "urgent": "Urgent", "safeguarding": "Safeguarding concern"}
FORM = "refer"
TOKEN_FIELD = "form_token"  # noqa: S105 - a form field's name
EXPIRED_NOTICE = (
    "This page had been open for too long, so your referral was not sent. "
    "Check your answers and send the referral again."
)
_store_lock = threading.Lock()


class ReferralFormInvalid(ValueError):
    """The form has gaps or mistakes; the errors say which."""


def raw_store() -> RawStore:
    """The app's raw store writer, made on first use and shared by every request."""
    with _store_lock:
        store: RawStore | None = current_app.extensions.get("cme.rawstore")
        if store is None:
            store = RawStore(settings().home, engine())
            current_app.extensions["cme.rawstore"] = store
        return store


def _dob(form: Any, errors: FormErrors) -> str:
    parts = [form.get(f"dob-{p}", "").strip() for p in ("day", "month", "year")]
    if not any(parts):
        return ""
    message = "Date of birth must be a real date in the past, like 27 3 2014"
    if not all(p.isdigit() for p in parts):
        errors.add("dob-day", message)
        return ""
    try:
        value = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        errors.add("dob-day", message)
        return ""
    if value >= utcnow().date() or value.year < 1990:
        errors.add("dob-day", message)
        return ""
    return value.isoformat()


def validate(form: Any) -> tuple[dict[str, str], FormErrors]:
    """The cleaned fields and the problems, in the order the form shows them."""
    errors = FormErrors()
    values = {name: str(form.get(name, "")).strip() for name, _label, _max in FIELDS}
    values["dob"] = _dob(form, errors)
    if not values["forename"]:
        errors.add("forename", "Enter the child's first name")
    if not values["surname"]:
        errors.add("surname", "Enter the child's last name")
    if values["postcode"]:
        normal = normalise_postcode(values["postcode"])
        if normal is None:
            errors.add("postcode", "Enter a real postcode, like TS10 1AB")
        else:
            values["postcode"] = normal
    if not values["reason"]:
        errors.add("reason", "Say why you think the child is missing education")
    if values["urgency"] not in URGENCIES:
        errors.add("urgency", "Select how urgent this is")
    if not values["referrer_name"]:
        errors.add("referrer_name", "Enter your name")
    email = values["referrer_email"]
    if email and ("@" not in email or " " in email or email.startswith("@") or email.endswith("@")):
        errors.add(
            "referrer_email", "Enter an email address in the right format, like name@example.com"
        )
    if not email and not values["referrer_phone"]:
        errors.add("referrer_email", "Enter an email address or a phone number so we can reach you")
    for name, label, most in FIELDS:
        if len(values[name]) > most:
            errors.add(name, f"{label} must be {most} characters or fewer")
    return values, errors


def as_message(values: dict[str, str], inbox: str) -> bytes:
    """The submission as an email, so intake reads it like any other referral."""
    msg = EmailMessage(policy=SMTP)
    domain = inbox.split("@", 1)[-1] or "localhost"
    msg["From"] = f"Referral form <referral-form@{domain}>"
    msg["To"] = inbox
    if values.get("referrer_email"):
        msg["Reply-To"] = values["referrer_email"]
    # Never a child's name in a header.
    msg["Subject"] = "Children missing education referral (web form)"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["X-CME-Source"] = "web-form"
    lines = [f"{label}: {values[name]}" for name, label, _max in FIELDS if values.get(name)]
    msg.set_content("\n".join(lines) + "\n")
    msg.add_attachment(
        json.dumps(values, indent=2, ensure_ascii=False).encode(),
        maintype="application",
        subtype="json",
        filename="referral-form.json",
    )
    return msg.as_bytes()


def _secret() -> bytes:
    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


def _new_token() -> str:
    return formtokens.issue(_secret(), FORM)


def _read_token() -> FormToken | None:
    hours = settings().limits.refer_token_hours
    try:
        return formtokens.read(
            _secret(), FORM, request.form.get(TOKEN_FIELD, ""), max_age_seconds=hours * 3600
        )
    except FormTokenInvalid:
        return None


def _form_page(
    errors: FormErrors, values: dict[str, str], token: str, status: int = 200, notice: str = ""
) -> tuple[str, int]:
    page = render_template(
        "refer/form.html", errors=errors, values=values, form_token=token, notice=notice
    )
    return page, status


def _already_sent(claim: Claim) -> tuple[str, int]:
    return render_template("refer/already_sent.html", reference=claim.reference), 409


def _over_limit(values: dict[str, str]) -> Decision | None:
    """Count this submission against its client and its referrer; the first refusal, if any."""
    decisions = [ratelimit.hit("refer_per_client", ratelimit.client())]
    referrer = referrer_key(values.get("referrer_email"), values.get("referrer_phone"))
    if referrer is not None:
        decisions.append(ratelimit.hit("refer_per_referrer", referrer))
    refused = [d for d in decisions if not d.allowed]
    return max(refused, key=lambda d: d.retry_after) if refused else None


def _too_many(decision: Decision) -> tuple[str, int, dict[str, str]]:
    page = render_template(
        "refer/too_many.html",
        wait=ratelimit.wait_phrase(decision.retry_after),
        inbox=settings().core.inbox_addresses[0],
    )
    return page, 429, {"Retry-After": str(decision.retry_after)}


@bp.route("", methods=["GET", "POST"])
@public
def refer_form() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    if request.method == "GET":
        return _form_page(FormErrors(), {"urgency": ""}, _new_token())
    values, errors = validate(request.form)
    token = _read_token()
    if token is None:
        return _form_page(errors, values, _new_token(), 400, notice=EXPIRED_NOTICE)
    if errors:
        return _form_page(errors, values, request.form[TOKEN_FIELD], 400)
    earlier = formtokens.spent(engine(), token)
    if earlier is not None:
        return _already_sent(earlier)
    refused = _over_limit(values)
    if refused is not None:
        return _too_many(refused)
    claim = formtokens.claim(engine(), token)
    if not claim.claimed:
        return _already_sent(claim)
    raw = as_message(values, settings().core.inbox_addresses[0])
    try:
        stored = raw_store().store(
            raw,
            Arrival(
                channel=IntakeChannel.FORM,
                peer=request.remote_addr,
                source_ref="web-form",
            ),
        )
    except RawStoreError:
        formtokens.release(engine(), token)
        current_app.logger.error("referral form could not be stored")
        raise ServiceUnavailable(
            "Your referral could not be saved. Nothing was sent. Try again in a few minutes."
        ) from None
    reference = f"WEB-{stored.sha256[:8].upper()}"
    formtokens.complete(engine(), token, reference)
    return render_template("refer/done.html", reference=reference), 201

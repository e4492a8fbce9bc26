"""The public referral form: no sign-in, stored whole in the raw store before we say thanks."""

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

from gateway.db import utcnow
from gateway.intake.rawstore import Arrival, RawStore, RawStoreError
from gateway.models.intake import IntakeChannel
from parsers.identifiers import normalise_postcode
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


@bp.route("", methods=["GET", "POST"])
@public
def refer_form() -> tuple[str, int] | str:
    if request.method == "GET":
        return render_template("refer/form.html", errors=FormErrors(), values={"urgency": ""})
    values, errors = validate(request.form)
    if errors:
        return render_template("refer/form.html", errors=errors, values=values), 400
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
        current_app.logger.error("referral form could not be stored")
        raise ServiceUnavailable(
            "Your referral could not be saved. Nothing was sent. Try again in a few minutes."
        ) from None
    reference = f"WEB-{stored.sha256[:8].upper()}"
    return render_template("refer/done.html", reference=reference), 201

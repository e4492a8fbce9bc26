"""Lost-pupil store over HTTPS: school CTF upload (per-school token) and officer search."""

from __future__ import annotations

import hmac
import tempfile
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from gateway import audit, disclosures
from gateway.cases.describe import long_date
from gateway.db import utcnow
from gateway.matching.linked import cases_confirmed_for_lost_pupil
from gateway.timers import local_today
from lost_pupil.detail import read_pupil
from lost_pupil.errors import LostPupilError, NotFound
from lost_pupil.ingest import import_ctf
from lost_pupil.lifecycle import claim, get_file, get_pupil
from lost_pupil.search import SearchQuery, search
from lost_pupil.store import FileStore
from lost_pupil.tokens import school_for_token
from parsers.errors import ParseError
from web.access import public, require_user
from web.csrf import csrf_exempt
from web.db import db, settings
from web.exchange_forms import ClaimForm
from web.form_errors import FormErrors

bp = Blueprint("lost_pupil", __name__)
#: The machine endpoint for schools: its own blueprint, so the access tests see it apart.
school_bp = Blueprint("school_upload", __name__)
FIELDS = ("upn", "forename", "surname", "dob", "sex", "postcode")
STATUS_LABELS = {"open": "Open: not yet on roll anywhere", "claimed": "Claimed by a school",
                 "expired": "Expired (kept only for a legal hold)"}  # fmt: skip


def _store() -> FileStore:
    s = settings()
    return FileStore(s.home / "lost_pupil", s.keys_dir / "lost_pupil.key")


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if hmac.compare_digest(scheme.lower(), "bearer") else ""


@school_bp.post("/lost-pupils/upload")
@public
@csrf_exempt
def upload() -> tuple[Response, int]:
    """A school sends a CTF (the raw body or a multipart 'file'); 201 once stored."""
    session = db()
    school = school_for_token(session, _bearer())
    if school is None:
        return jsonify(error="a valid school upload token is required"), 401
    upload_file = request.files.get("file")
    source: Any = upload_file.stream if upload_file else request.stream
    s = settings()
    # Spooled so the importer can read it twice (hash first, then parse and encrypt).
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        while chunk := source.read(256 * 1024):
            spool.write(chunk)
        spool.seek(0)
        try:
            result = import_ctf(
                session,
                _store(),
                spool,
                uploader=f"school:{school}",
                retention_days=s.lost_pupil.retention_days,
                original_name=upload_file.filename if upload_file else None,
                max_bytes=s.lost_pupil.max_upload_bytes,
                expected_source=school,
            )
            audit.record(
                session,
                actor=f"school:{school}",
                action="lost_pupil.upload",
                entity="ctf_file",
                entity_id=result.file_id,
                detail={"pupils": result.pupils, "duplicate": result.duplicate},
            )
            session.commit()
        except (ParseError, LostPupilError) as exc:
            session.rollback()
            return jsonify(error=str(exc)), 422
    problems = [{"pupil": pos, "problems": list(msgs)} for pos, msgs in result.pupil_problems]
    body = jsonify(
        file_id=result.file_id,
        sha256=result.sha256,
        pupils=result.pupils,
        duplicate=result.duplicate,
        problems=problems,
    )
    return body, 201


def _query_from_form() -> tuple[SearchQuery, dict[str, str], FormErrors]:
    values = {f: (request.form.get(f) or "").strip() for f in FIELDS}
    errors = FormErrors()
    dob = None
    if values["dob"]:
        try:
            dob = date.fromisoformat(values["dob"])
        except ValueError:
            errors.add("dob", "Enter the date of birth as year-month-day, for example 2014-03-07")
    query = SearchQuery(
        upn=values["upn"] or None,
        forename=values["forename"] or None,
        surname=values["surname"] or None,
        dob=dob,
        sex=values["sex"] or None,
        postcode=values["postcode"] or None,
    )
    if query.is_empty() and not errors:
        errors.add("upn", "Enter a UPN, or a name, date of birth or postcode")
    return query, values, errors


@bp.get("/lost-pupils")
def search_form() -> str:
    return render_template("lost_pupil/search.html", values={}, errors=FormErrors(), results=None)


@bp.post("/lost-pupils")
def search_results() -> tuple[str, int] | str:
    """Search by POST so that no child's name or date of birth ever sits in a URL."""
    query, values, errors = _query_from_form()
    if errors:
        return render_template(
            "lost_pupil/search.html", values=values, errors=errors, results=None
        ), 400
    session = db()
    results = search(session, query, 25)
    user = require_user()
    audit.record(
        session,
        actor=user.username,
        action="lost_pupil.search",
        entity="lost_pupil",
        entity_id=None,
        detail={"fields": [f for f in FIELDS if values[f]], "results": [c.id for c in results]},
    )
    session.commit()
    return render_template(
        "lost_pupil/search.html", values=values, errors=FormErrors(), results=results
    )


def _render_view(
    pupil_id: int, errors: FormErrors, claim_form: ClaimForm | None = None
) -> tuple[str, int] | str:
    session = db()
    try:
        pupil = get_pupil(session, pupil_id)
        record = get_file(session, pupil.file_id)
        header, full = read_pupil(_store(), record.sha256, pupil.position)
    except NotFound:
        abort(404)
    audit.record(
        session,
        actor=require_user().username,
        action="lost_pupil.view",
        entity="lost_pupil",
        entity_id=pupil_id,
    )
    session.commit()
    html = render_template(
        "lost_pupil/view.html", pupil=pupil, record=record, header=header, full=full,
        cases=cases_confirmed_for_lost_pupil(session, pupil_id), errors=errors,
        claim=claim_form or ClaimForm(), statuses=STATUS_LABELS,
    )  # fmt: skip
    return (html, 400) if errors else html


@bp.get("/lost-pupils/<int:pupil_id>")
def view(pupil_id: int) -> tuple[str, int] | str:
    return _render_view(pupil_id, FormErrors())


@bp.post("/lost-pupils/<int:pupil_id>/claim")
def claim_pupil(pupil_id: int) -> WerkzeugResponse | tuple[str, int] | str:
    """The child is on roll at a school: close the record (its claim closes monitored cases)."""
    user = require_user()
    session = db()
    errors = FormErrors()
    form = ClaimForm.posted(request.form)
    laestab, on_roll = form.values(errors, today=local_today(settings(), utcnow()).date())
    if errors or on_roll is None:
        return _render_view(pupil_id, errors, form)
    try:
        claim(session, pupil_id, school_laestab=laestab, on_roll_from=on_roll, actor=user.username)
    except NotFound:
        session.rollback()
        abort(404)
    except LostPupilError as exc:
        session.rollback()
        # The boxes were checked above: what is left is about the record (claimed already).
        errors.add("record", str(exc)[:1].upper() + str(exc)[1:])
        return _render_view(pupil_id, errors, form)
    audit.record(
        session, actor=user.username, action="lost_pupil.claim", entity="lost_pupil",
        entity_id=pupil_id, detail={"school": laestab, "from": on_roll.isoformat()},
    )  # fmt: skip
    session.commit()
    flash(
        f"Claimed: on roll at school {laestab} from {long_date(on_roll)}. Any case of ours "
        "monitoring this child was told.",
        "success",
    )
    return redirect(url_for("lost_pupil.view", pupil_id=pupil_id))


@bp.get("/lost-pupils/<int:pupil_id>/download")
def download(pupil_id: int) -> Response:
    """The original CTF, byte for byte; the file name carries no child data."""
    session = db()
    try:
        record = get_file(session, get_pupil(session, pupil_id).file_id)
        data = _store().read_bytes(record.sha256)
    except NotFound:
        abort(404)
    user = require_user()
    # The whole file leaves the system: one row of the disclosure register.
    disclosures.record(
        session, kind="ctf_download", recipient=f"{user.display_name} ({user.username})",
        basis=disclosures.LawfulBasis.PUBLIC_TASK, channel="download",
        fields=[f"ctf_file:{record.id}", f"lost_pupil:{pupil_id}"], actor=user.username,
    )  # fmt: skip
    session.commit()
    return Response(
        data,
        mimetype="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="ctf-{record.id}.xml"',
            "Cache-Control": "no-store",
        },
    )

"""School upload refuses a school-to-school transfer and a DTD in any encoding, whole."""

from __future__ import annotations

import pytest

from lost_pupil.tokens import issue_token
from tests.fixtures import ctf_gen as g
from tests.web.conftest import WebClient, WebEnv


def _upload(web: WebEnv, client: WebClient, data: bytes) -> tuple[int, dict[str, object]]:
    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    resp = client.raw.post(
        "/lost-pupils/upload",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    return resp.status_code, resp.get_json()


def _nothing_stored(web: WebEnv) -> None:
    objects = web.settings.home / "lost_pupil" / "objects"
    assert not objects.exists() or not any(objects.iterdir())
    assert web.audit("lost_pupil.upload") == []


def test_a_transfer_to_a_school_is_refused_naming_the_school(
    web: WebEnv, client: WebClient
) -> None:
    status, body = _upload(
        web, client, g.ctf_bytes([g.sample_pupil()], g.CtfOptions(dest="8063001"))
    )
    assert status == 422
    assert body["error"] == (
        "this CTF is addressed to school 806/3001 (a school-to-school transfer), not a "
        "lost-pupil file: send it through S2S to that school"
    )
    _nothing_stored(web)


@pytest.mark.parametrize("encoding", sorted(g.HOSTILE_ENCODINGS))
def test_a_doctype_in_any_encoding_is_refused(
    web: WebEnv, client: WebClient, encoding: str
) -> None:
    status, body = _upload(web, client, g.external_entity_in(encoding))
    assert status == 422 and "DOCTYPE" in str(body["error"])
    _nothing_stored(web)

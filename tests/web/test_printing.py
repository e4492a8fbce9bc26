"""Letters to referrers with no email address: a print view, a PDF, and marking them done."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models.case import Task
from gateway.models.casework import PrintedLetter
from gateway.printing import CSP_STYLE
from tests.web.conftest import WebClient, WebEnv


def _letter_case(web: WebEnv) -> tuple[int, int]:
    case_id = web.add_case(
        referrer_email=None, referrer_name="Mr Neighbour", referrer_phone="01642 000000",
        gaps=["date of birth missing"],
    )  # fmt: skip
    with web.session() as s:
        letter = s.execute(select(PrintedLetter).where(PrintedLetter.case_id == case_id))
        return case_id, letter.scalar_one().id


def test_the_print_view_and_pdf_of_a_letter(web: WebEnv, officer: WebClient) -> None:
    case_id, letter_id = _letter_case(web)
    page = officer.get(f"/cases/{case_id}/letters/{letter_id}")
    assert page.h1 == f"[CME-{case_id}] Referral: further information needed"
    assert "date of birth missing" in page.text("//body")
    assert CSP_STYLE in page.response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.response.headers["Content-Security-Policy"]
    pdf = officer.raw.get(f"/cases/{case_id}/letters/{letter_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert f"CME-{case_id}" in pdf.headers["Content-Disposition"]
    assert "Testwell" not in pdf.headers["Content-Disposition"]
    assert [e.action for e in web.audit("letter.print")] == ["letter.print"]
    officer.get(f"/cases/{case_id}/letters/999", status=404)


def test_marking_a_letter_phoned_completes_its_task(web: WebEnv, officer: WebClient) -> None:
    case_id, letter_id = _letter_case(web)
    officer.post(f"/cases/{case_id}/letters/{letter_id}/done", {"how": "phoned"})
    with web.session() as s:
        [task] = s.execute(select(Task).where(Task.kind == "phone_referrer")).scalars().all()
        assert task.status == "done"
        letter = s.get(PrintedLetter, letter_id)
        assert letter is not None and letter.done_by == "olivia"

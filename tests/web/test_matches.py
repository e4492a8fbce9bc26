"""The match review pages: the list, a candidate beside its record with the waterfall, and
the officer's decision with its consequence (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.matching import candidates
from gateway.matching.confirm import Verdict, decide
from gateway.matching.review import review
from gateway.models.audit import AuditEntry
from gateway.models.case import Case
from gateway.models.matching import MatchCandidate
from gateway.models.referral import Referral
from gateway.triage import service as triage
from lost_pupil.tokens import issue_token
from tests.fixtures import ctf_gen
from tests.web.conftest import Page, WebClient, WebEnv
from web import matches, waterfall

OLIVER: dict[str, Any] = {
    "forename": "Oliver", "surname": "Testwell", "dob": "2015-04-03", "sex": "M",
    "postcode": "TS10 1AA", "address_line1": "1 Synthetic Street", "town": "Redcar",
    "reason": "Not seen since half term", "referrer_name": "Gail Practice",
    "referrer_email": "gp@health.example", "channel": "email", "received": "2026-11-20",
}  # fmt: skip
#: Less alike than "Ollie" at the same address, in falling order of likelihood.
NO_ADDRESS = {"address_line1": "", "postcode": "", "town": "", "sex": ""}
LESS_ALIKE = {**NO_ADDRESS, "dob": "2015-04-04"}
LEAST_ALIKE = {**NO_ADDRESS, "surname": "Smith"}


def _case(web: WebEnv, forename: str = "Oliver", **extra: Any) -> int:
    """A case opened from a referral (Ann Head's, unless `extra` says otherwise)."""
    return web.add_case(forename, "Testwell", sex="M", **extra)


def _referral(web: WebEnv, **changes: Any) -> int:
    """A referral through the one path every referral takes; it waits in triage."""
    with web.session() as s:
        routed = triage.receive(s, web.settings, {**OLIVER, **changes}, actor="test")
        s.commit()
    assert routed.outcome == "triage", routed
    return routed.referral_id


def _refresh(web: WebEnv, query_ref: str) -> None:
    with web.session() as s:
        candidates.refresh(s, web.settings, query_ref)
        s.commit()


def _candidate(web: WebEnv, query_ref: str, target_ref: str) -> int:
    with web.session() as s:
        found = candidates.candidates_for(s, [query_ref])[query_ref]
    ids = [c.id for c in found if c.target_ref == target_ref]
    assert ids, f"no candidate {target_ref} for {query_ref}: {found}"
    return ids[0]


def _state(web: WebEnv, candidate_id: int) -> str:
    with web.session() as s:
        row = s.get(MatchCandidate, candidate_id)
        assert row is not None
        return row.state


def _banner(page: Page) -> str:
    return page.text("//p[contains(@class,'govuk-notification-banner__heading')]")


def _cells(row: Any) -> list[str]:
    return [" ".join(c.text_content().split()) for c in row.xpath("./th|./td")]


def _svg(page: Page) -> Any:
    found = page.doc.xpath("//svg[@id='waterfall']")
    assert len(found) == 1, "the review page draws one waterfall"
    return found[0]


def _follow(officer: WebClient, page: Page) -> Page:
    return officer.get(page.response.headers["Location"])


def _both_referrals(web: WebEnv, page: Page, case_id: int) -> None:
    """The case holds, and its page shows, the first referral (Ann Head's) and the later one."""
    with web.session() as s:
        held = s.execute(select(Referral.referrer_name).where(Referral.case_id == case_id))
        assert sorted(n or "" for n in held.scalars()) == ["Ann Head", "Gail Practice"]
    shown = page.text("//*[@id='referrals']")
    assert "Ann Head" in shown and "Gail Practice" in shown


def _ollie(web: WebEnv) -> tuple[int, int, int]:
    """Case CME-n for Oliver and a later referral about "Ollie" (same DOB and address)."""
    case_id = _case(web)
    referral_id = _referral(web, forename="Ollie")
    return case_id, referral_id, _candidate(web, f"referral:{referral_id}", f"case:{case_id}")


def test_the_list_shows_what_waits_most_likely_first_in_words(
    web: WebEnv, officer: WebClient
) -> None:
    case_id, best_ref, best = _ollie(web)
    least_ref = _referral(web, **LEAST_ALIKE)
    less_ref = _referral(web, **LESS_ALIKE)
    rejected_ref = _referral(web, forename="Olly", referrer_email="a@b.example")
    least = _candidate(web, f"referral:{least_ref}", f"case:{case_id}")
    less = _candidate(web, f"referral:{less_ref}", f"case:{case_id}")
    with web.session() as s:
        decide(s, web.settings, f"referral:{least_ref}", f"case:{case_id}", Verdict.NOT_SURE, "o")
        decide(
            s, web.settings, f"referral:{rejected_ref}", f"case:{case_id}", Verdict.REJECTED, "o"
        )
        s.commit()

    page = officer.get("/matches")
    assert page.h1 == "Matches to review"
    assert page.title.startswith("Matches to review – ")
    assert page.text("//*[@id='match-count']") == "3 possible matches waiting for a decision"
    assert page.text("//a[@id='nav-matches']") == "Matches (3)"
    rows = page.doc.xpath("//table[@id='matches']/tbody/tr")
    assert [int(r.get("data-candidate")) for r in rows] == [best, less, least]
    first = _cells(rows[0])
    assert first[:5] == [
        f"Referral {best_ref}",
        f"Case CME-{case_id}",
        "Likely match",
        "more than 99.9%",
        "To review",
    ]
    assert first[5] == f"Review Referral {best_ref} and Case CME-{case_id}"
    assert _cells(rows[2])[4] == "Not sure yet"
    assert "%" in _cells(rows[2])[3] and "more than" not in _cells(rows[2])[3]
    # Codes never show: "referral:3", "pending", "proposed".
    text = page.text("//main")
    assert not any(code in text for code in ("referral:", "case:", "pending", "proposed"))
    entry = web.audit("match.list")[-1]
    assert entry.actor == "olivia" and entry.detail == {
        "page": 1,
        "candidates": [best, less, least],
    }


def test_the_list_paginates_and_refuses_pages_that_do_not_exist(
    web: WebEnv, officer: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matches, "PAGE_SIZE", 2)
    _, _, best = _ollie(web)
    _referral(web, **LESS_ALIKE)
    last = _referral(web, **LEAST_ALIKE)
    assert len(officer.get("/matches").doc.xpath("//table[@id='matches']/tbody/tr")) == 2
    page = officer.get("/matches?page=2")
    rows = page.doc.xpath("//table[@id='matches']/tbody/tr")
    assert [_cells(r)[0] for r in rows] == [f"Referral {last}"]
    assert page.doc.xpath("//nav[contains(@class,'govuk-pagination')]//a[@rel='prev']")
    for bad in ("3", "0", "x"):
        officer.get(f"/matches?page={bad}", status=404)
    assert best


def test_an_empty_list_says_so(web: WebEnv, officer: WebClient) -> None:
    page = officer.get("/matches")
    assert page.text("//*[@id='match-count']") == "0 possible matches waiting for a decision"
    assert not page.doc.xpath("//table[@id='matches']")
    assert officer.get("/cases").text("//a[@id='nav-matches']") == "Matches (0)"


def test_the_review_page_sets_the_records_side_by_side_with_a_waterfall(
    web: WebEnv, officer: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id, referral_id, cid = _ollie(web)

    def no_matching(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a page view ran the matcher")

    monkeypatch.setattr(candidates, "find_candidates", no_matching)
    page = officer.get(f"/matches/{cid}")
    q, t = f"Referral {referral_id}", f"Case CME-{case_id}"
    assert page.h1 == f"Is {q} the same child as {t}?"
    assert page.text("//*[@id='likelihood']").startswith("Likely match: a probability of more")
    assert page.text("//*[@id='state']") == "To review"
    links = set(page.doc.xpath("//main//a/@href"))
    assert {f"/triage/{referral_id}", f"/cases/{case_id}", "#decision"} <= links

    with web.session() as s:
        expected = review(s, cid)
    assert expected is not None
    rows = {r.get("data-field"): _cells(r) for r in page.doc.xpath("//table[@id='comparison']//tr")}
    assert rows["forename"] == [
        "First name",
        "Ollie",
        "Oliver",
        "A spelling or short form of the same name",
        waterfall.signed(next(f.weight for f in expected.fields if f.field == "forename")),
    ]
    assert rows["dob"][1:4] == ["3 April 2015", "3 April 2015", "The same"]
    assert rows["sex"][1:3] == ["Male", "Male"]
    assert rows["upn"][1:4] == ["Not known", "Not known", "Not known on one side"]
    assert rows["upn"][4] == "0"
    assert rows["prior"][-1] == waterfall.signed(expected.prior)
    assert rows["final"][-1] == waterfall.signed(expected.total)
    assert rows["final"][1] == "A probability of more than 99.9% that this is the same child"

    svg = _svg(page)
    assert svg.get("role") == "img" and svg.get("focusable") == "false"
    assert svg.get("aria-labelledby") == "waterfall-title"
    assert svg.xpath("./title[@id='waterfall-title']")[0].text == waterfall.TITLE
    desc = svg.xpath("./desc[@id='waterfall-desc']")[0].text
    assert desc.startswith(f"Starts at {waterfall.signed(expected.prior)} log2 odds")
    assert "First name +" in desc and "more than 99.9%" in desc
    weighted = [f for f in expected.fields if f.weight]
    bars = svg.xpath(".//rect[@data-kind]")
    assert [b.get("data-kind") for b in bars] == ["prior"] + [
        "agree" if f.weight > 0 else "disagree" for f in weighted
    ] + ["final"]
    names = [g.get("data-name") for g in svg.xpath(".//g[@data-kind]")]
    assert names[1:-1] == [f.name for f in weighted]
    # Each bar carries its signed weight in words beside it, not colour alone.
    labels = [
        g.xpath("./text[@font-weight='bold']")[-1].text for g in svg.xpath(".//g[@data-kind]")
    ]
    assert labels[1:-1] == [waterfall.signed(f.weight) for f in weighted]
    assert all(label.startswith(("+", waterfall.MINUS)) for label in labels)
    # Nothing in it takes focus.
    assert not svg.xpath(".//*[@tabindex or self::a]")

    again = officer.get(f"/matches/{cid}")
    assert etree.tostring(_svg(again)) == etree.tostring(svg), "the chart is deterministic"
    assert waterfall.layout(expected) == waterfall.layout(expected)

    entry = web.audit("match.view")[-1]
    assert (entry.actor, entry.entity_id) == ("olivia", str(cid))
    assert entry.detail == {"query": f"referral:{referral_id}", "target": f"case:{case_id}"}


def test_the_decision_form_offers_three_choices_in_order(web: WebEnv, officer: WebClient) -> None:
    *_, cid = _ollie(web)
    page = officer.get(f"/matches/{cid}")
    form = page.doc.xpath("//form[@id='decision']")[0]
    assert form.get("action") == f"/matches/{cid}"
    radios = form.xpath(".//input[@type='radio']")
    assert [r.get("value") for r in radios] == ["confirmed", "rejected", "not_sure"]
    assert [" ".join(lbl.text_content().split()) for lbl in form.xpath(".//label")] == [
        "Yes, the same child",
        "No, a different child",
        "Not sure yet",
    ]
    assert radios[0].get("id") == "verdict"
    assert "adds the referral to Case CME-" in page.text("//*[@id='verdict-hint']")


def test_confirming_a_referral_adds_it_to_the_case(web: WebEnv, officer: WebClient) -> None:
    case_id, referral_id, cid = _ollie(web)
    done = officer.post(f"/matches/{cid}", {"verdict": "confirmed"})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    page = _follow(officer, done)
    assert _banner(page) == f"The referral was added to case CME-{case_id}."
    assert page.text("//a[@id='nav-matches']") == "Matches (0)"
    _both_referrals(web, page, case_id)
    with web.session() as s:
        referral = s.get(Referral, referral_id)
        assert referral is not None and referral.case_id == case_id
    assert _state(web, cid) == "confirmed"
    assert any(e.detail.get("target") == f"case:{case_id}" for e in web.audit("match_confirmed"))


def test_confirming_two_cases_merges_the_newer_into_the_older(
    web: WebEnv, officer: WebClient
) -> None:
    older = _case(web)
    newer = _case(
        web, forename="Ollie", referrer_name="Gail Practice", referrer_email="gp@health.example"
    )
    _refresh(web, f"case:{newer}")
    cid = _candidate(web, f"case:{newer}", f"case:{older}")
    page = officer.get(f"/matches/{cid}")
    assert page.h1 == f"Is Case CME-{newer} the same child as Case CME-{older}?"
    assert "merges the newer case into the older one" in page.text("//*[@id='verdict-hint']")
    done = officer.post(f"/matches/{cid}", {"verdict": "confirmed"})
    assert done.response.headers["Location"] == f"/cases/{older}"
    kept = _follow(officer, done)
    assert _banner(kept) == f"The duplicate was merged into case CME-{older}."
    _both_referrals(web, kept, older)
    with web.session() as s:
        dup = s.get(Case, newer)
        assert dup is not None
        assert (dup.status, dup.outcome, dup.merged_into_id) == ("closed", "duplicate", older)


def _lost_pupil(web: WebEnv) -> tuple[int, str]:
    """A school uploads a CTF with one pupil (Amelia Featherstone) through its endpoint."""
    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    pupil = ctf_gen.sample_pupil()
    resp = web.app.test_client().post(
        "/lost-pupils/upload",
        data=ctf_gen.ctf_bytes([pupil]),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    assert resp.status_code == 201, resp.get_json()
    assert pupil.upn is not None
    return resp.get_json()["file_id"], pupil.upn


def featherstone_case(web: WebEnv) -> int:
    """A case for the child the sample lost-pupil record is about, with no UPN known."""
    return web.add_case("Amelia", "Featherstone", dob="2014-03-07", sex="F")


def test_confirming_a_lost_pupil_gives_the_case_its_upn_and_last_school(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = featherstone_case(web)
    _, upn = _lost_pupil(web)
    _refresh(web, f"case:{case_id}")
    with web.session() as s:
        found = candidates.candidates_for(s, [f"case:{case_id}"])[f"case:{case_id}"]
    pupil = next(c for c in found if c.target_kind == "lost_pupil")
    pupil_id = int(pupil.target_ref.partition(":")[2])
    page = officer.get(f"/matches/{pupil.id}")
    assert page.h1 == f"Is Case CME-{case_id} the same child as Lost pupil {pupil_id}?"
    assert f"/lost-pupils/{pupil_id}" in page.doc.xpath("//main//a/@href")
    assert "the UPN and last school" in page.text("//*[@id='verdict-hint']")

    done = officer.post(f"/matches/{pupil.id}", {"verdict": "confirmed"})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    case_page = _follow(officer, done)
    assert "UPN and last school" in _banner(case_page)
    assert upn in case_page.text("//*[@id='child']")
    assert "8073000" in case_page.text("//main")
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and (case.child.upn, case.last_school) == (upn, "8073000")


def test_rejecting_and_not_sure_go_back_to_the_list(web: WebEnv, officer: WebClient) -> None:
    case_id, _, cid = _ollie(web)
    unsure = officer.post(f"/matches/{cid}", {"verdict": "not_sure"})
    assert unsure.response.headers["Location"] == "/matches"
    page = _follow(officer, unsure)
    assert _banner(page) == "Marked as not sure: it stays in the list for later."
    assert _cells(page.doc.xpath("//table[@id='matches']/tbody/tr")[0])[4] == "Not sure yet"

    # Not sure stays open: the officer can still decide.
    rejected = officer.post(f"/matches/{cid}", {"verdict": "rejected"})
    page = _follow(officer, rejected)
    assert _banner(page) == "Not the same child: it will not be proposed again."
    assert not page.doc.xpath("//table[@id='matches']")
    assert _state(web, cid) == "rejected"
    with web.session() as s:
        assert s.get(Case, case_id) is not None
    decided = officer.get(f"/matches/{cid}")
    assert decided.text("//*[@id='decision']") == "This match has been decided: Rejected."
    assert not decided.doc.xpath("//form[@id='decision']")


def test_no_choice_is_an_error_summary_and_changes_nothing(web: WebEnv, officer: WebClient) -> None:
    *_, cid = _ollie(web)
    for form in ({}, {"verdict": "merge"}):
        page = officer.post(f"/matches/{cid}", form, status=400)
        assert page.error_links() == {"verdict": "Select whether this is the same child"}
        assert page.title.startswith("Error: Is Referral ")
        assert (
            page.text("//*[@id='verdict-error']") == "Error: Select whether this is the same child"
        )
        fieldset = page.doc.xpath("//form[@id='decision']//fieldset")[0]
        assert fieldset.get("aria-describedby") == "verdict-hint verdict-error"
    assert _state(web, cid) == "pending"


def test_a_second_decision_is_refused_cleanly(web: WebEnv, officer: WebClient) -> None:
    case_id, referral_id, cid = _ollie(web)
    officer.post(f"/matches/{cid}", {"verdict": "confirmed"})
    page = officer.post(f"/matches/{cid}", {"verdict": "rejected"}, status=400)
    pair = f"Referral {referral_id} and Case CME-{case_id}"
    assert page.error_links() == {"decision": f"{pair} were already confirmed by olivia"}
    assert page.text("//*[@id='decision']") == "This match has been decided: Confirmed."
    assert _state(web, cid) == "confirmed"
    with web.session() as s:
        rejections = s.execute(
            select(AuditEntry).where(AuditEntry.action == "match_rejected")
        ).all()
    assert rejections == []


def test_an_unknown_candidate_is_not_found(web: WebEnv, officer: WebClient) -> None:
    officer.get("/matches/999", status=404)
    officer.post("/matches/999", {"verdict": "confirmed"}, status=404)


def test_a_candidate_settled_another_way_is_refused_in_words(
    web: WebEnv, officer: WebClient
) -> None:
    older = _case(web)
    newer = _case(web, forename="Ollie", referrer_email="gp@health.example")
    referral_id = _referral(web, forename="Olly")
    _refresh(web, f"case:{newer}")
    to_newer = _candidate(web, f"referral:{referral_id}", f"case:{newer}")
    merge = _candidate(web, f"case:{newer}", f"case:{older}")
    officer.post(f"/matches/{merge}", {"verdict": "confirmed"})

    # The newer case is merged away: the referral's candidate for it is no longer proposed.
    assert _state(web, to_newer) == "superseded"
    page = officer.get(f"/matches/{to_newer}")
    assert page.text("//*[@id='decision']") == (
        "This match is no longer proposed: one of the two records was settled another way."
    )
    refused = officer.post(f"/matches/{to_newer}", {"verdict": "confirmed"}, status=400)
    assert refused.error_links() == {
        "decision": f"Referral {referral_id} and Case CME-{newer} are no longer proposed as a "
        "match: one of them was settled another way"
    }

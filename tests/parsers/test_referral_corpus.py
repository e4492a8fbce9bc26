"""The referral corpus, field by field, and the accuracy report the issue asks for."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.cases.inputs import build_referral_input
from parsers.referral import parse_referral
from tests.fixtures.referrals.corpus import REQUIRED, compare, load_corpus

CORPUS = load_corpus()


def test_corpus_is_varied_and_large_enough() -> None:
    kinds = {f.kind for f in CORPUS}
    assert len(CORPUS) >= 40
    assert kinds == {"text", "html", "email", "docx"}
    assert sum(1 for f in CORPUS if f.expect["gaps"]) >= 8  # sparse ones with gaps
    for f in CORPUS:
        assert set(REQUIRED) | {"gaps"} <= set(f.expect) | {
            "reason",
            "sex",
            "upn",
            "referrer_email",
        }


@pytest.mark.parametrize("fixture", CORPUS, ids=[f.name for f in CORPUS])
def test_fixture_fields(fixture) -> None:
    draft = parse_referral(fixture.data, kind=fixture.kind)
    wrong = compare(fixture.expect, draft.to_dict())
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("fixture", CORPUS, ids=[f.name for f in CORPUS])
def test_draft_becomes_a_referral_input(fixture) -> None:
    """The draft's flat fields go straight into the case store's validated input."""
    draft = parse_referral(fixture.data, kind=fixture.kind)
    values = draft.fields
    if not values.get("forename") or not values.get("surname"):
        pytest.skip("no full child name: the officer completes this one at triage")
    values.pop("draft")
    data = build_referral_input(values, today=date(2026, 3, 31))
    assert data.forename == draft.forename
    assert data.surname == draft.surname
    assert data.age_range == (tuple(draft.age_range) if draft.age_range else None)
    assert data.anonymous == draft.anonymous
    assert len(data.actions_taken) == len(draft.actions)


def test_spans_point_at_the_values() -> None:
    for fixture in CORPUS:
        draft = parse_referral(fixture.data, kind=fixture.kind)
        for name in ("dob", "upn", "school"):
            field = draft.field(name)
            if field is None or field.source is None or field.raw is None:
                continue
            s = field.source
            assert draft.text[s.start : s.end].strip() == field.raw.strip(), (fixture.name, name)


def test_accuracy_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Every required field right on >= 95% of fixtures, and every expected gap reported."""
    all_right = 0
    per_field = dict.fromkeys(REQUIRED, 0)
    gaps_right = 0
    for fixture in CORPUS:
        got = parse_referral(fixture.data, kind=fixture.kind).to_dict()
        fields_ok = True
        for key in REQUIRED:
            ok = got.get(key) == fixture.expect.get(key)
            per_field[key] += ok
            fields_ok &= ok
        all_right += fields_ok
        gaps_right += set(got["gaps"]) == set(fixture.expect["gaps"])
    n = len(CORPUS)
    with capsys.disabled():
        print(
            f"\nreferral corpus: {n} fixtures; all required fields right on {all_right}/{n}"
            f" ({100 * all_right / n:.1f}%); gaps exactly right on {gaps_right}/{n}"
        )
        for key, right in per_field.items():
            print(f"  {key:16} {right}/{n}")
    assert all_right / n >= 0.95
    assert gaps_right == n

"""The referral parser on its own: sources of every kind, gaps, and any input at all."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from parsers.errors import ParseError
from parsers.html import html_blocks, html_to_text
from parsers.identifiers import upn_check_letter
from parsers.referral import ReferralDraft, SourceKind, parse_referral
from tests.fixtures.referrals.corpus import load_corpus

CORPUS = load_corpus()
LABELS = ["Name", "DOB", "UPN", "Postcode", "School", "Reason", "Parent", "Referrer",
          "Email", "Sex", "Address", "Siblings", "Looked after", "Child's surname",
          "Forename(s)"]  # fmt: skip


def test_string_bodies_are_sniffed_as_text_or_html() -> None:
    text = parse_referral("Name: Ava Grey\nDOB: 1/2/2015\n")
    assert text.kind is SourceKind.TEXT and text.forename == "Ava" and text.dob == "2015-02-01"
    html = parse_referral("<table><tr><td>Name</td><td>Ava Grey</td></tr></table>")
    assert html.kind is SourceKind.HTML and html.surname == "Grey"


def test_gaps_name_what_to_ask_the_referrer() -> None:
    draft = parse_referral("Name: Ava Grey\nUPN: R807300024002\nPostcode: XX1\n")
    expected = upn_check_letter("807300024002")
    assert f"UPN check letter wrong: expected {expected} (UPN given: R807300024002)" in draft.gaps
    assert "postcode 'XX1' is not a valid UK postcode" in draft.gaps
    assert "date of birth is missing" in draft.gaps
    assert draft.value("upn") is None and draft.value("postcode") is None


def test_quoted_values_lose_to_new_ones() -> None:
    draft = parse_referral("DOB: 02/02/2016\n\n> Name: Kim Oakes\n> DOB: 01/01/2015\n")
    assert draft.dob == "2016-02-02"
    name = draft.field("forename")
    assert name is not None and name.confidence < 0.95


def test_to_dict_has_the_acceptance_keys_and_detail() -> None:
    out = parse_referral(CORPUS[0].data, kind=CORPUS[0].kind).to_dict()
    for key in ("forename", "surname", "dob", "sex", "upn", "postcode", "school",
                "referrer_name", "referrer_email", "reason", "gaps"):  # fmt: skip
        assert key in out
    detail = out["detail"]["dob"]
    assert set(detail) == {"value", "confidence", "source", "raw", "origin", "context"}
    assert detail["source"]["where"].startswith("line")
    assert detail["origin"] == "label"


def test_html_helpers() -> None:
    assert html_to_text("<p>a<br>b</p><table><tr><td>x</td><td>y</td></tr></table>") == "a\nb\nx\ty"
    assert html_blocks("") == ()
    assert html_to_text(b"\x00\x01") == ""


def _read(data: bytes | str, kind: str | None = None) -> ReferralDraft | None:
    with contextlib.suppress(ParseError):
        draft = parse_referral(data, kind=kind)
        draft.to_dict()
        return draft
    return None


@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_a_draft_or_parse_error(data: bytes) -> None:
    _read(data)


@given(st.lists(st.one_of(st.sampled_from(LABELS), st.text(max_size=40)), max_size=40),
       st.sampled_from([": ", "\t", "  ", "\n", " - ", "> "]))  # fmt: skip
def test_label_soup_never_breaks_the_parser(pieces: list[str], sep: str) -> None:
    draft = _read(sep.join(pieces))
    assert draft is not None
    for f in draft.values:
        if f.source is not None:
            assert 0 <= f.source.start <= f.source.end <= len(draft.text)


@given(st.text(max_size=2000))
def test_arbitrary_html_gives_a_draft(text: str) -> None:
    assert _read("<html><body>" + text, kind="html") is not None


@given(st.sampled_from(CORPUS), st.data())
def test_truncated_and_mutated_fixtures(fixture, data: st.DataObject) -> None:
    raw = fixture.data
    cut = data.draw(st.integers(0, len(raw)))
    _read(raw[:cut], fixture.kind)
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                               max_size=15))  # fmt: skip
    mutated = bytearray(raw)
    for pos, value in flips:
        mutated[pos] = value
    _read(bytes(mutated), fixture.kind)


def test_a_huge_text_is_read_within_its_caps() -> None:
    text = ("Name: Ava Grey\n" + "Reason: x y z\n" * 200_000)[:3_000_000]
    draft = parse_referral(text)
    assert draft.forename == "Ava"
    assert draft.defects

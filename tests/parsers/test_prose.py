"""The prose reader: what a person writes without labels, read without inventing anything."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.ages_dates import age_range_of_year, ages_in, resolve_day_month
from parsers.child_name import _NAME_CUES
from parsers.form_lines import ProseLine
from parsers.identifiers import parse_uk_date
from parsers.prose import read_prose
from parsers.referral import ReferralDraft, parse_referral

MARCH = date(2026, 3, 9)


def _draft(text: str, received: date | None = MARCH) -> ReferralDraft:
    return parse_referral(text, received=received)


def _prose(text: str, received: date | None = MARCH):
    return read_prose(text, [ProseLine(text, 0, len(text), False, "line 1")], received=received)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("she is about 9 or 10", (9, 10)),
        ("he's around 11", (10, 12)),
        ("a lad, 11 or 12 years old", (11, 12)),
        ("a girl aged 7", (7, 7)),
        ("she's eleven", (11, 11)),
        ("he is nearly 11", (10, 11)),
        ("a 9-year-old boy", (9, 9)),
        ("she must be about 13-14", (13, 14)),
    ],
)
def test_an_age_is_a_range_in_years(words: str, expected: tuple[int, int]) -> None:
    draft = _draft(f"There is a child called Maisie, {words}, who is never at school.")
    assert draft.age_range == expected
    assert draft.dob is None
    field = draft.field("age_range")
    assert field is not None and field.origin == "prose" and field.raw in draft.text


@pytest.mark.parametrize(
    "words",
    [
        "she has been off for about 3 weeks",
        "I saw her at about 10 o'clock",
        "they live at about 11 Coast Road",
        "her mum is about 35",
        "her little brother is 7",
        "I'm 45 and worried",
        "around 12:30 she was outside",
    ],
)
def test_numbers_that_are_not_the_childs_age(words: str) -> None:
    assert _draft(f"A girl called Maisie is never at school; {words}.").age_range is None


def test_a_year_group_gives_its_ages_and_itself() -> None:
    draft = _draft("A boy called Jake is in year 6 and hasn't been at school since Easter.")
    assert draft.value("year_group") == "6"
    assert draft.age_range == (10, 11)
    assert age_range_of_year("R") == (4, 5) and age_range_of_year("11") == (15, 16)
    assert age_range_of_year("14") is None
    words = "She is about 11 (Year 6?) and never at school. Her name is Ava."
    assert _draft(words).age_range == (10, 12)  # the age written wins over the year's


def test_the_siblings_age_is_the_siblings() -> None:
    found = ages_in("her brother, aged 5, goes to Kirkleatham")
    assert [(lo, hi, who) for lo, hi, _, _, who in found] == [(5, 5, "sibling")]
    draft = _draft("A girl called Maisie, 11, never goes to school. Her brother Sam, aged 5, does.")
    assert draft.age_range == (11, 11)
    assert draft.siblings[0]["age_range"] == [5, 5]


@pytest.mark.parametrize(
    ("text", "dob", "birthday"),
    [
        ("Maisie Rowe was born 3 March 2015 and is not at school.", "2015-03-03", None),
        ("The girl, Maisie Rowe (DOB 03/03/2015), is not at school.", "2015-03-03", None),
        ("Her name is Maisie; date of birth is the 3rd of March 2015.", "2015-03-03", None),
        ("Her name is Maisie. Her birthday is 3rd March, she's 11.", None, "--03-03"),
        ("Her name is Maisie, she was born in 2015 I think.", None, None),
        ("Her name is Maisie. Her mum's DOB is 01/01/1990.", None, None),
        ("My name is Jo, I was born 1 May 1980. A girl called Maisie is never at school.", None,
         None),
    ],
)  # fmt: skip
def test_a_date_of_birth_only_from_a_whole_date(
    text: str, dob: str | None, birthday: str | None
) -> None:
    draft = _draft(text)
    assert draft.dob == dob
    assert draft.value("birthday") == birthday


def test_an_implausible_date_of_birth_is_a_gap_not_a_value() -> None:
    draft = _draft("A boy called Jake Hill, born 3 March 2027, is not at school.")
    assert draft.dob is None
    assert "date of birth '3 March 2027' is not a plausible date of birth" in draft.gaps


@pytest.mark.parametrize(
    ("received", "expected"),
    [(date(2026, 3, 9), "2025-10-14"), (date(2026, 10, 20), "2026-10-14"), (None, None)],
)
def test_a_day_and_month_take_the_year_from_the_message(
    received: date | None, expected: str | None
) -> None:
    draft = _draft("A girl called Maisie Rowe was last seen on 14 October.", received)
    assert draft.value("date_last_seen") == expected
    if expected is None:
        assert draft.value("date_last_seen_text") == "on 14 October"
        assert "date last seen is not a date: the referral says 'on 14 October'" in draft.gaps
    assert resolve_day_month(28, 2, date(2026, 3, 1)) == date(2026, 2, 28)
    assert resolve_day_month(29, 2, date(2026, 3, 1)) is None  # no 29 February this year or last


def test_since_easter_is_kept_as_words_never_a_date() -> None:
    draft = _draft("Maisie Rowe hasn't been at school since Easter.")
    assert draft.value("date_last_attended") is None
    assert draft.value("date_last_attended_text") == "since Easter"
    assert "date last attended is not a date: the referral says 'since Easter'" in draft.gaps


@pytest.mark.parametrize(
    ("text", "forename", "surname"),
    [
        ("There's a girl called Maisie at 12 Coast Road.", "Maisie", None),
        ("A boy named Jake Hill lives near me.", "Jake", "Hill"),
        ("Her name's Maisie, surname Rowe.", "Maisie", "Rowe"),
        ("His name is Kai, I don't know his surname.", "Kai", None),
        ("I think she's called Ava-Rose O'Neill.", "Ava-Rose", "O'Neill"),
        ("My name is Jo Rowe and I'm worried about the kids next door.", None, None),
        ("Her mum, Jo Rowe, says she's fine.", None, None),
        ("Jo Rowe's daughter has not been in school for weeks.", None, None),
        ("Thanks, Pat", None, None),
        ("Called the school on Monday, no answer.", None, None),
        ("The Primary School has not been told.", None, None),
    ],
)
def test_a_name_only_after_words_that_give_one(
    text: str, forename: str | None, surname: str | None
) -> None:
    draft = _draft(text)
    assert (draft.forename, draft.surname) == (forename, surname)


def test_goes_by_is_an_alias_when_there_is_a_name() -> None:
    draft = _draft("A boy called Alexander Hill, who goes by Alex, is never at school.")
    assert (draft.forename, draft.surname, draft.value("aliases")) == (
        "Alexander",
        "Hill",
        ["Alex"],
    )


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("There is a girl called Maisie who is never at school.", "F"),
        ("My neighbour's son Jake is never at school.", "M"),
        ("A lad called Kai, about 13, is never at school.", "M"),
        ("Maisie Rowe has not been in school. She is in year 6.", "F"),
        ("Jamie Rowe has not been in school. Her mum says he is ill.", None),
        ("Jamie Rowe is not in school. His mum said she would take him to school.", None),
        ("The caller says she lives next door to a child called Jamie who is never at school.",
         None),
        ("My daughter says a boy called Jamie hasn't been in school for weeks.", "M"),
    ],
)  # fmt: skip
def test_sex_from_the_childs_own_words(text: str, sex: str | None) -> None:
    assert _draft(text).value("sex") == sex


@pytest.mark.parametrize(
    ("text", "line1", "town", "postcode"),
    [
        ("A girl called Maisie at 12 Coast Road is never at school.", "12 Coast Road", None, None),
        ("Maisie Rowe lives on Coast Road in Redcar.", "Coast Road", "Redcar", None),
        ("A boy called Jake lives at flat 3, 22 High Street, Redcar TS10 1AB.", "Flat 3", "Redcar",
         "TS10 1AB"),
        ("I live at 14 Coast Road, Redcar TS10 1AA and a girl called Maisie is never at school.",
         None, None, None),
        ("A girl called Maisie goes to the park on Coast Road every day.", None, None, None),
    ],
)  # fmt: skip
def test_an_address_with_or_without_a_postcode(
    text: str, line1: str | None, town: str | None, postcode: str | None
) -> None:
    draft = _draft(text)
    assert (draft.value("address_line1"), draft.value("town"), draft.value("postcode")) == (
        line1,
        town,
        postcode,
    )


@pytest.mark.parametrize(
    ("text", "school"),
    [
        ("Maisie Rowe used to go to St Hilda's.", "St Hilda's"),
        ("Maisie Rowe was at Redcar Primary until Easter.", "Redcar Primary"),
        ("Maisie Rowe left Coatham Academy in September.", "Coatham Academy"),
        ("Maisie Rowe's family left Redcar in September.", None),
        ("I work at Westfield Primary School. A girl called Maisie is never in school.", None),
        ("A girl called Maisie is not in school. Her brother goes to Huntcliff School.", None),
    ],
)
def test_a_school_named_in_passing(text: str, school: str | None) -> None:
    assert _draft(text).value("school") == school


def test_family_read_from_sentences() -> None:
    draft = _draft(
        "A girl called Maisie lives with her dad. Her mum, Jo Rowe, is on 07700 900123. "
        "Her brother Sam goes to Kirkleatham. You can ring me on 07700 900999."
    )
    carers = {c["relationship"]: c for c in draft.carers}
    assert carers["Father"]["lives_with"] is True and "name" not in carers["Father"]
    assert (carers["Mother"]["name"], carers["Mother"]["phone"]) == ("Jo Rowe", "07700900123")
    assert draft.siblings[0]["name"] == "Sam" and draft.siblings[0]["school"] == "Kirkleatham"
    assert draft.value("referrer_phone") == "07700900999"
    for person in (*draft.carers, *draft.siblings):
        src = person["source"]
        assert src["origin"] == "prose" and src["sentence"] in draft.text


@pytest.mark.parametrize(
    "request_",
    [
        "Please don't tell them it was me.",
        "I'd rather stay anonymous.",
        "Don't give my name.",
        "I don't want the family to know it was me.",
        "Please keep my name out of it.",
        "Caller asked not to be named.",
        "Please don't say it was me.",
    ],
)
def test_a_request_not_to_be_named(request_: str) -> None:
    draft = _draft(f"A girl called Maisie is never at school. {request_}")
    assert draft.anonymous is True
    field = draft.field("anonymous")
    assert field is not None and field.raw is not None and field.raw.lower() in request_.lower()
    assert _draft("An anonymous caller says Maisie Rowe is not in school.").anonymous is False


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("I'm worried he's not safe.", "not safe"),
        ("She had bruises on her arm.", "bruises"),
        ("I don't think he's being fed.", None),
        ("He's not being fed properly.", "not being fed"),
        ("She says she's scared to go home.", "scared"),
        ("There are no safeguarding concerns.", None),
        ("If you are worried about a child's safety, call 999.", None),
        ("I'm afraid I don't know her surname.", None),
        ("I'm the designated safeguarding lead.", None),
        ("She is at risk of missing education.", None),
    ],
)
def test_safeguarding_cues_carry_their_words(text: str, cue: str | None) -> None:
    draft = _draft(f"A girl called Maisie Rowe is never at school. {text}")
    if cue is None:
        assert draft.value("safeguarding") is None and draft.value("urgency") is None
        return
    assert draft.value("safeguarding") is True and draft.value("urgency") == "safeguarding"
    assert cue in [c["phrase"] for c in draft.value("safeguarding_cues")]


def test_labels_win_and_prose_fills_the_rest() -> None:
    draft = _draft(
        "Name: Ella Stone\nDOB: 05/06/2014\nSchool: Westfield Primary School\n\n"
        "A girl called Ellie-May lives at 8 Laburnum Road, Redcar. She's about 12. "
        "Her mum, Lisa Stone, is on 07700 900555. I'm worried she is not safe.\n"
    )
    assert (draft.forename, draft.surname, draft.dob) == ("Ella", "Stone", "2014-06-05")
    assert draft.field("forename").origin == "label"  # type: ignore[union-attr]
    assert draft.age_range is None  # an age never stands beside a date of birth
    assert draft.value("address_line1") == "8 Laburnum Road"
    assert draft.field("address_line1").origin == "prose"  # type: ignore[union-attr]
    assert draft.carers[0]["name"] == "Lisa Stone" and draft.value("safeguarding") is True


def test_a_labelled_address_is_never_mixed_with_a_prose_town() -> None:
    draft = _draft("Name: Ella Stone\nPostcode: TS10 3QH\n\nShe lives on Coast Road in Redcar.\n")
    assert draft.value("postcode") == "TS10 3QH"
    assert draft.value("address_line1") is None and draft.value("town") is None


def test_labelled_anonymity_and_an_actions_table() -> None:
    html = (
        "<p>Child's name: Ella Stone</p><table><tr><td>Can we share your details with the "
        "family?</td><td>No</td></tr></table>"
        "<h3>Actions taken</h3><table><tr><th>Date</th><th>Action</th><th>Outcome</th></tr>"
        "<tr><td>02/03/2026</td><td>Phone call to mother</td><td>No answer</td></tr></table>"
    )
    draft = parse_referral(html, kind="html")
    assert draft.anonymous is True
    (action,) = draft.actions
    assert (action["date"], action["step"], action["outcome"]) == (
        "2026-03-02",
        "Phone call to mother",
        "No answer",
    )
    text = parse_referral("Name: Ella Stone\nActions taken: 06/03/2026 phoned mother, no answer\n")
    assert text.actions[0]["outcome"] == "no answer" and text.actions[0]["step"] == "phoned mother"


def test_the_prose_reader_on_its_own() -> None:
    found = _prose("There's a girl called Maisie at 12 Coast Road, about 11, never at school.")
    values = {f.name: f.value for f in found.values}
    assert values["forename"] == "Maisie" and values["age_range"] == (10, 12)
    assert "dob" not in values and "surname" not in values
    forename = found.value("forename")
    assert forename is not None and forename.sentence.text.startswith("There's a girl")


# --- properties -----------------------------------------------------------------------------

PIECES = [
    "called", "named", "her name's", "his name is", "surname", "goes by", "Maisie", "Rowe",
    "Jo", "Kelly Marsh", "O'Neill", "girl", "boy", "lad", "she", "he", "her mum", "his dad",
    "brother", "sister", "about", "around", "aged", "11", "9 or 10", "years old", "year 6",
    "reception", "born", "DOB", "birthday is", "3 March", "3rd March", "03/03", "2015",
    "03/03/2015", "14 October", "since", "Easter", "half term", "last seen",
    "hasn't been at school", "lives at", "lives on", "12 Coast Road", "Redcar", "TS10 1AB",
    "flat 3,", "used to go to",
    "St Hilda's", "Redcar Primary", "left", "Kirkleatham", "lives with", "07700 900123",
    "don't tell them it was me", "anonymous", "not safe", "bruises", "no", "not", "If", "I", "my",
    "I'm", ",", ".", "(", ")", "\n", "\n\n", "> ", "-", "'s",
]  # fmt: skip


def _spans_hold(draft: ReferralDraft) -> None:
    n = len(draft.text)
    for f in draft.values:
        if f.source is None:
            continue
        assert 0 <= f.source.start <= f.source.end <= n, f.name
        if f.origin == "prose":
            assert f.raw == draft.text[f.source.start : f.source.end], f.name
            assert f.context is not None
    for person in (*draft.carers, *draft.siblings, *draft.actions):
        src = person.get("source")
        if src is not None:
            assert 0 <= src["start"] <= src["end"] <= n
    for cue in draft.value("safeguarding_cues") or []:
        assert draft.text[cue["start"] : cue["end"]] == cue["phrase"]


def _dob_from_a_whole_date(draft: ReferralDraft) -> None:
    field = draft.field("dob")
    if field is None:
        return
    assert field.source is not None
    written = draft.text[field.source.start : field.source.end]
    assert parse_uk_date(written) is not None
    assert parse_uk_date(written).isoformat() == field.value  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.sampled_from([" ", "  ", "\n"]))
def test_phrase_soup_never_breaks_the_reader(pieces: list[str], sep: str) -> None:
    draft = parse_referral(sep.join(pieces), received=MARCH)
    draft.to_dict()
    _spans_hold(draft)
    _dob_from_a_whole_date(draft)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=1500))
def test_any_text_gives_a_draft_whose_spans_are_in_it(text: str) -> None:
    draft = parse_referral(text, received=MARCH)
    _spans_hold(draft)
    _dob_from_a_whole_date(draft)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["born", "DOB", "birthday is", "date of birth", "born on the"]),
    st.integers(1, 28),
    st.sampled_from(["March", "Oct", "December", "/03", "-10"]),
    st.sampled_from(["", ", she's 11", " and about 9 or 10", " in year 6", " (aged 7)"]),
)
def test_no_date_of_birth_without_a_year(cue: str, day: int, month: str, rest: str) -> None:
    written = f"{day}{month}" if month.startswith(("/", "-")) else f"{day} {month}"
    draft = _draft(f"A girl called Maisie Rowe, {cue} {written}{rest}, is never at school.")
    assert draft.dob is None
    _spans_hold(draft)


_cue_words = st.sampled_from(
    ["a", "girl", "called", "Named", "NAME", "name's", "is", "she", "her", "was", "by", "the",
     "of", "Maisie", "regarding", "Lily", "known", "as", "ſ", "K", ",", "'s"]
)  # fmt: skip


@given(st.lists(_cue_words, max_size=12).map(" ".join) | st.text(max_size=60))
def test_the_cues_that_need_called_or_name_are_gated_on_those_words(text: str) -> None:
    if re.search(r"called|name", text, re.IGNORECASE) is None:
        needing = _NAME_CUES[:4]
        assert all(p.search(text) is None for p, _, _ in needing)
        if text.isascii():  # and their prefilters turn such a sentence away unscanned
            assert not any(p.may_match(text + " " * 48) for p, _, _ in needing)

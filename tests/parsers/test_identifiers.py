"""Identifiers: UPN worked examples, UK dates, names, phones, emails; properties."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.identifiers import (
    UpnCheck,
    check_upn,
    find_dates,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_upn,
    parse_person_name,
    parse_uk_date,
    upn_check_letter,
)


@pytest.mark.parametrize(
    "upn",
    ["B801200005001", "R674123101121", "R807300024001", "H807300024123", "P207000016049"],
)
def test_domain_worked_examples_are_valid_permanent_upns(upn: str) -> None:
    check = check_upn(upn)
    assert check.valid and not check.temporary


@pytest.mark.parametrize("upn", ["Q80730002401A", "X00180001701A"])
def test_temporary_upns(upn: str) -> None:
    check = check_upn(upn)
    assert check.temporary and check.expected_check_letter == upn[0]


def test_the_wrong_published_example_and_an_unknown_la() -> None:
    assert check_upn("Q207000016049").problems == ("UPN check letter wrong: expected P",)
    unknown = check_upn("A123456789012")
    assert not unknown.valid and unknown.expected_check_letter == "A"
    assert "LA code 123" in unknown.problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2015", date(2015, 4, 3)),
        ("3.4.15", date(2015, 4, 3)),
        ("3rd April 2015", date(2015, 4, 3)),
        ("April 3 2015", date(2015, 4, 3)),
        ("April 3rd, 2015", date(2015, 4, 3)),
        ("2015-04-03", date(2015, 4, 3)),
        ("3-Apr-2015", date(2015, 4, 3)),
        ("born on the 3rd of April 2015", date(2015, 4, 3)),
        ("22.11.13", date(2013, 11, 22)),
        ("Sept 9th, 2014", date(2014, 9, 9)),
        ("31/02/2015", None),
        ("not known", None),
        ("", None),
    ],
)
def test_uk_dates(text: str, expected: date | None) -> None:
    assert parse_uk_date(text) == expected


@pytest.mark.parametrize(
    ("raw", "forenames", "surname", "aliases"),
    [
        ("Mrs Jane SMITH-JONES (known as Jay)", "Jane", "Smith-Jones", ("Jay",)),
        ("SMITH, Jane Anne", "Jane Anne", "Smith", ()),
        ("Ella Rose van der Berg", "Ella Rose", "van der Berg", ()),
        ("liam o'neill", "Liam", "O'Neill", ()),
        ("Tom Brown aka Tommy Green", "Tom", "Brown", ("Tommy Green",)),
        ("Mr Smith", None, "Smith", ()),
    ],
)
def test_names(raw: str, forenames: str | None, surname: str, aliases: tuple[str, ...]) -> None:
    name = parse_person_name(raw)
    assert name is not None
    assert (name.forenames, name.surname, name.aliases) == (forenames, surname, aliases)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900123", "07700900123"),
        ("+44 (0)7700 900123", "07700900123"),
        ("0044 1642 444555", "01642444555"),
        ("(01642) 444-555", "01642444555"),
        ("+1 555 0100 2000", None),
        ("12345", None),
    ],
)
def test_phones(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_emails_and_postcodes() -> None:
    assert normalise_email("<Jo.Bloggs@School-807.EXAMPLE>") == "Jo.Bloggs@school-807.example"
    assert normalise_email("not an address") is None
    assert normalise_postcode("ts101aa") == "TS10 1AA"
    assert normalise_postcode("TS99 ZZZ") is None


@given(st.text(max_size=300))
def test_identifier_functions_never_raise_on_any_text(text: str) -> None:
    parse_uk_date(text)
    find_dates(text)
    parse_person_name(text)
    normalise_phone(text)
    normalise_email(text)
    normalise_postcode(text)
    check_upn(text)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2068, 12, 31)))
def test_every_written_form_of_a_date_reads_back(d: date) -> None:
    month = d.strftime("%B")
    forms = [
        d.strftime("%d/%m/%Y"),
        f"{d.day}.{d.month}.{d.year}",
        f"{d.day} {month} {d.year}",
        f"{month} {d.day}, {d.year}",
        d.isoformat(),
    ]
    for form in forms:
        assert parse_uk_date(form) == d, form


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_a_computed_check_letter_always_validates(digits: str) -> None:
    body = "807" + digits[3:] + digits[-1]
    upn = upn_check_letter(body) + body
    check = check_upn(upn)
    assert check.valid, check.problems


# The plain forms these functions had before their fast paths (a look-up table for the
# check letter, no regex for input with nothing to strip): the verdicts must not move.
_REF_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def _reference_check_letter(body: str) -> str:
    total = 0
    for weight, ch in enumerate(body, start=2):
        total += weight * (int(ch) if ch.isdigit() else _REF_LETTERS.index(ch))
    return _REF_LETTERS[total % 23]


def _reference_postcode(raw: str | None) -> str | None:
    if not raw:
        return None
    compact = re.sub(r"\s+", "", raw).upper()
    if not re.match(
        r"^(GIR0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)[0-9][ABD-HJLNP-UW-Z]{2})$",
        compact,
    ):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


_upn_like = st.text(
    st.sampled_from("ABCDEHIJKORSTZabhijz0123456789 -\t\u00a0\u0661\u00df_"), max_size=16
) | st.builds(
    lambda d, c: c + d,
    st.text(st.sampled_from("0123456789"), min_size=11, max_size=12),
    st.sampled_from("ABHRTZIOS"),
)


@given(st.one_of(_upn_like, st.text(max_size=20)))
def test_upn_and_postcode_fast_paths_give_what_the_plain_forms_gave(raw: str) -> None:
    assert normalise_upn(raw) == re.sub(r"[\s-]", "", raw).upper()
    assert normalise_postcode(raw) == _reference_postcode(raw)
    check = check_upn(raw)
    assert check == UpnCheck(**vars(check))  # a whole instance, every field set
    value = check.value
    if check.expected_check_letter is not None:
        assert check.expected_check_letter == _reference_check_letter(value[1:])
        assert check.valid == (value[0] == check.expected_check_letter and check.problems == ())
    body = value[1:13]
    if len(body) == 12:
        try:
            want: str | type[Exception] = _reference_check_letter(body)
        except ValueError:
            want = ValueError
        if want is ValueError:
            with pytest.raises(ValueError):
                upn_check_letter(body)
        else:
            assert upn_check_letter(body) == want

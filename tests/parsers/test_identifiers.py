"""Identifiers: UPN worked examples, UK dates, names, phones, emails; properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.identifiers import (
    check_upn,
    find_dates,
    normalise_email,
    normalise_phone,
    normalise_postcode,
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

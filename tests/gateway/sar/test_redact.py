"""How far the anonymous referrer's redaction goes, and what the review marks find."""

from __future__ import annotations

import pytest

from gateway.sar.marks import REDACTED, Category, Flag, Redacted, Text
from gateway.sar.redact import Counts, Person, Redactor, Spotter, finish

R = REDACTED


def _redactor(*protected: str) -> Redactor:
    person = Person(
        Category.REFERRER,
        names=["Mrs Zanzibarina Quillfeather"],
        emails=["Zanzi.Quill@Example.net"],
        phones=["07700 900123"],
    )
    return Redactor([person], protected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zanzibarina Quillfeather", R),
        ("zanzibarina   QUILLFEATHER wrote", f"{R} wrote"),
        ("Quillfeather, Zanzibarina", R),
        ("Zanzibarina\nQuillfeather", R),
        ("Thanks, Zanzibarina", f"Thanks, {R}"),
        ("Mrs Quillfeather called", f"Mrs {R} called"),
        ("mail zanzi.quill@example.NET today", f"mail {R} today"),
        ("call 07700900123", f"call {R}"),
        ("call +44 7700 900123", f"call {R}"),
        ("call +44 (0)7700 900-123.", f"call {R}."),
        ("call 0044 7700 900 123", f"call {R}"),
        ("ref 907700900123 stays", "ref 907700900123 stays"),
        ("the Quillfeathering tool", "the Quillfeathering tool"),
    ],
)
def test_the_anonymous_referrer_is_found_however_written(text: str, expected: str) -> None:
    assert _redactor().apply(text) == expected


def test_a_name_part_the_family_shares_is_kept_alone_but_not_in_the_whole_name() -> None:
    redactor = _redactor("Peregrina Quillfeather")  # the child bears the surname
    assert (
        redactor.apply("Peregrina Quillfeather lives here") == "Peregrina Quillfeather lives here"
    )
    assert redactor.apply("from Zanzibarina Quillfeather") == f"from {R}"
    assert redactor.apply("Zanzibarina rang") == f"{R} rang"


def test_a_name_part_is_matched_as_written_so_common_words_survive() -> None:
    redactor = Redactor([Person(Category.REFERRER, names=["Ann Head"])], [])
    assert redactor.apply("Ann Head, head teacher") == f"{R}, head teacher"
    assert redactor.apply("Head of year") == f"{R} of year"  # capitalised: over, not under


def test_finish_redacts_every_string_and_marks_third_parties() -> None:
    redactor = _redactor()
    spotter = Spotter(
        [
            Person(Category.REFERRER, names=["Ambrosine Fairweather-Lusk"]),
            Person(Category.STAFF, usernames=["olivia"]),
        ]
    )
    counts = Counts()
    tree = {
        "referrer": Redacted(),
        "named": Flag("Ambrosine Fairweather-Lusk", Category.REFERRER),
        "letter": Text("Dear Zanzibarina Quillfeather, from Ambrosine Fairweather-Lusk"),
        "detail": {"username": "olivia", "note": ["no one here"]},
    }
    out = finish(tree, redactor, spotter, counts)
    assert out["referrer"] == {"value": R, "redacted": True, "category": "referrer"}
    assert out["named"] == {
        "value": "Ambrosine Fairweather-Lusk", "redaction_review": True, "category": "referrer",
    }  # fmt: skip
    text = out["letter"]["text"]
    assert text == f"Dear {R}, from Ambrosine Fairweather-Lusk"
    [mention] = out["letter"]["mentions"]
    assert mention["category"] == "referrer"
    assert text[mention["start"] : mention["end"]] == "Ambrosine Fairweather-Lusk"
    assert out["detail"]["username"]["mentions"][0]["category"] == "staff"
    assert out["detail"]["note"] == ["no one here"]
    assert (counts.flagged, counts.redacted_fields, counts.mentions) == (1, 1, 2)
    assert redactor.replacements == 1

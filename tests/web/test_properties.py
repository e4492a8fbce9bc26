"""Property tests for the web's own input handling: the referral form and redirect targets."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from web.access import safe_next
from web.refer import FIELDS, as_message, validate

FIELD_NAMES = [name for name, _label, _max in FIELDS] + ["dob-day", "dob-month", "dob-year"]
forms = st.dictionaries(st.sampled_from(FIELD_NAMES), st.text(max_size=300), max_size=20)
# Mostly-valid forms too, so the accepted path is explored, not only the refusals.
valid_forms = st.fixed_dictionaries(
    {
        "forename": st.text(min_size=1, max_size=100).filter(str.strip),
        "surname": st.text(min_size=1, max_size=100).filter(str.strip),
        "reason": st.text(min_size=1, max_size=500).filter(str.strip),
        "urgency": st.sampled_from(["routine", "urgent", "safeguarding"]),
        "referrer_name": st.text(min_size=1, max_size=100).filter(str.strip),
        "referrer_phone": st.text(min_size=1, max_size=40).filter(str.strip),
    }
)


@given(forms | valid_forms)
def test_validate_never_fails_and_errors_point_at_fields(values: dict[str, str]) -> None:
    cleaned, errors = validate(MultiDict(values))
    fields = {name for name, _label, _max in FIELDS} | {"dob-day"}
    assert {e.field for e in errors.items} <= fields
    if not errors:
        assert cleaned["forename"] and cleaned["surname"] and cleaned["reason"]
        for name, _label, most in FIELDS:
            assert len(cleaned[name]) <= most
        # Whatever was typed, it becomes one well-formed message with no names in headers.
        raw = as_message(cleaned, "cme@redcar-cleveland.example")
        msg = message_from_bytes(raw, policy=default)
        assert msg["Subject"] == "Children missing education referral (web form)"
        assert msg.get_body(preferencelist=("plain",)) is not None


@given(st.text(max_size=200))
def test_safe_next_only_returns_local_paths(target: str) -> None:
    result = safe_next(target)
    if result is not None:
        assert result == target
        assert result.startswith("/") and not result.startswith("//")
        assert "\\" not in result
        assert urlsplit(result).netloc == "" and urlsplit(result).scheme == ""

"""The .docx reader: real form shapes, and bombs, XXE and damage refused with clear errors."""

from __future__ import annotations

import contextlib
import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.docx import MAX_MEMBERS, read_docx
from parsers.errors import ParseError
from tests.fixtures.referrals.docx_forms import FORMS
from tests.fixtures.referrals.make_docx import W, build_docx

FORM_BYTES = [build_docx(f["spec"]) for f in FORMS.values()]


def test_tables_controls_and_tick_boxes() -> None:
    doc = read_docx(build_docx(FORMS["35-content-controls-checkboxes"]["spec"]))
    tags = {c.tag: c.text for c in doc.controls if c.tag}
    assert tags["Surname"] == "Hussain" and tags["DOB"] == "2013-07-14"
    ticked = [(b.label, b.checked) for b in doc.checkboxes]
    assert ("Male", True) in ticked and ("Female", False) in ticked
    legacy = read_docx(build_docx(FORMS["36-legacy-form-fields"]["spec"]))
    (table,) = [b for b in legacy.blocks if hasattr(b, "rows")]
    assert ("Surname", "Lister") in table.rows
    assert ("Known to social care", "[x] Yes [ ] No") in table.rows


def test_multi_paragraph_cells_keep_their_lines() -> None:
    doc = read_docx(build_docx(FORMS["34-council-form-sections"]["spec"]))
    assert "19 Laburnum Road\nRedcar\nTS10 3QH" in doc.text.replace(", ", "\n") or any(
        "19 Laburnum Road" in c for b in doc.blocks if hasattr(b, "rows") for r in b.rows for c in r
    )


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_zip_bomb_is_refused() -> None:
    bomb = _zip({"word/document.xml": b"<a>" + b" " * 60_000_000 + b"</a>"})
    with pytest.raises(ParseError, match=r"zip bomb|over the limit"):
        read_docx(bomb)


def test_xml_bomb_and_external_entities_are_refused() -> None:
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
           b'<w:document xmlns:w="' + W.encode() + b'"><w:body><w:p><w:r><w:t>&lol2;</w:t>'
           b"</w:r></w:p></w:body></w:document>")  # fmt: skip
    with pytest.raises(ParseError, match="DOCTYPE"):
        read_docx(build_docx([], document=lol))
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<w:document xmlns:w="' + W.encode() + b'"><w:body><w:p><w:r><w:t>&x;</w:t>'
           b"</w:r></w:p></w:body></w:document>")  # fmt: skip
    with pytest.raises(ParseError, match="DOCTYPE"):
        read_docx(build_docx([], document=xxe))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a Word .docx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old-style Word .doc"),
        (b"PK\x03\x04broken", "damaged"),
        (_zip({"hello.txt": b"hi"}), "no word/document.xml"),
        (_zip({"word/document.xml": b"<not-closed>"}), "not well-formed"),
        (_zip({"word/document.xml": b"<root/>"}), "no WordprocessingML body"),
        (_zip({f"f{i}": b"" for i in range(MAX_MEMBERS + 1)}), "parts"),
    ],
)
def test_unreadable_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        read_docx(data)


@given(st.binary(max_size=3000))
def test_arbitrary_bytes_read_or_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        read_docx(data)


@given(st.sampled_from(FORM_BYTES), st.data())
def test_truncated_and_mutated_forms_read_or_parse_error(form: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(form)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(form) - 1), st.integers(0, 255)),
                               max_size=10))  # fmt: skip
    mutated = bytearray(form)
    for pos, value in flips:
        mutated[pos] = value
    for candidate in (form[:cut], bytes(mutated)):
        with contextlib.suppress(ParseError):
            read_docx(candidate)

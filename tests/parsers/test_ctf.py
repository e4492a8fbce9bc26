"""The streaming CTF reader: every variant, per-pupil gaps, hostile files, properties."""

from __future__ import annotations

import contextlib
import tracemalloc
from dataclasses import fields, is_dataclass, replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.ctf import CtfReader, DestinationKind, ProblemKind, parse_ctf
from parsers.errors import ParseError
from tests.fixtures import ctf_gen as g


@pytest.mark.parametrize("version", ["17.0", "18.0", "20.0", "23.0", "25.0", "26.0"])
@pytest.mark.parametrize("sex_tag", ["Sex", "Gender"])
@pytest.mark.parametrize("address", ["bs7666", "lines"])
def test_reads_every_version_sex_tag_and_address_style(version, sex_tag, address):
    opts = g.CtfOptions(version=version, sex_tag=sex_tag, address=address)
    ctf = parse_ctf(g.ctf_bytes([g.sample_pupil()], opts))
    assert ctf.header.version_major == int(version.split(".")[0])
    (p,) = ctf.pupils
    assert p.sex == "F"
    assert p.address is not None and p.address.style == address
    assert p.address.postcode == "TS10 1AA"
    assert p.address.lines[0] == "1 High Street"
    assert p.problems == ()


def test_header_basic_details_contacts_and_history():
    ctf = parse_ctf(g.ctf_bytes([g.sample_pupil()], g.CtfOptions(qualifier="full")))
    h = ctf.header
    assert (h.source.laestab, h.dest.laestab, h.dest_kind) == ("8073000", "XXXXXXX", "lost")
    assert not h.partial
    p = ctf.pupils[0]
    assert p.upn == "R807300024001" and p.upn_check and p.upn_check.valid
    assert p.former_upns == ("H80730002307A",)
    assert p.former_surnames == ("Blenkinsop",)
    assert p.preferred_forename == "Millie" and p.middle_names == "Rose"
    assert p.dob == date(2014, 3, 7)
    assert [c.forename for c in p.contacts] == ["Carer1", "Carer2"]
    assert p.contacts[0].responsibility is True and p.contacts[0].phones[0].kind == "M"
    spell = p.last_school
    assert spell and spell.leaving_date == date(2025, 10, 3)
    assert spell.removal_grounds == "9(1)(i)"


@pytest.mark.parametrize(
    ("dest", "kind"),
    [
        ("XXXXXXX", DestinationKind.LOST),
        ("MMMMMMM", DestinationKind.OUT_OF_S2S),
        ("8063001", DestinationKind.SCHOOL),
    ],
)
def test_destination_kinds(dest, kind):
    ctf = parse_ctf(g.ctf_bytes([g.sample_pupil()], g.CtfOptions(dest=dest)))
    assert ctf.header.dest_kind is kind


def test_partial_and_full_files():
    assert parse_ctf(g.ctf_bytes([g.sample_pupil()])).header.partial
    full = parse_ctf(g.ctf_bytes(list(g.many_pupils(30)), g.CtfOptions(qualifier="full")))
    assert not full.header.partial and len(full.pupils) == 30


def test_reports_what_each_pupil_lacks_or_gets_wrong():
    bad_upn = "A807300024001"  # correct body, wrong check letter (R expected)
    pupils = [
        g.sample_pupil(),
        g.sample_pupil(upn=None),
        g.sample_pupil(upn=bad_upn, postcode="NOT A CODE"),
        g.sample_pupil(former_upns=("B807300024001",)),
    ]
    ctf = parse_ctf(g.ctf_bytes(pupils))
    problems = [{(x.field, x.kind) for x in p.problems} for p in ctf.pupils]
    assert problems[0] == set()
    assert problems[1] == {("UPN", ProblemKind.MISSING)}
    assert problems[2] == {("UPN", ProblemKind.INVALID), ("PostCode", ProblemKind.INVALID)}
    assert "expected R" in ctf.pupils[2].problems[0].message
    assert problems[3] == {("FormerUPN", ProblemKind.INVALID)}


def test_missing_names_dob_and_sex_are_reported():
    xml = g.ctf_bytes([g.sample_pupil()]).replace(b"<Surname>Featherstone</Surname>", b"")
    xml = xml.replace(b"<DOB>2014-03-07</DOB>", b"<DOB>2014-13-40</DOB>").replace(
        b"<Sex>F</Sex>", b""
    )
    (p,) = parse_ctf(xml).pupils
    got = {(x.field, x.kind) for x in p.problems}
    assert got == {
        ("Surname", ProblemKind.MISSING),
        ("DOB", ProblemKind.INVALID),
        ("Sex", ProblemKind.MISSING),
    }


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (g.BILLION_LAUGHS, "DOCTYPE"),
        (g.external_entity(), "DOCTYPE"),
        (g.external_entity("http://127.0.0.1:9/x"), "DOCTYPE"),
        (g.padded_doctype(), "DOCTYPE"),
        (g.undeclared_entity(), "not well-formed"),
        (g.deep_nesting(), "not well-formed"),
        (b"", "empty"),
        (b"<Referral/>", "not a CTF"),
        (b"not xml at all", "not well-formed"),
        (g.ctf_bytes([g.sample_pupil()])[:-40], "not well-formed"),
        (g.ctf_bytes([]), "no pupils"),
        (g.ctf_bytes([g.sample_pupil()], g.CtfOptions(version="12.0")), "older"),
        (g.ctf_bytes([g.sample_pupil()], g.CtfOptions(version="banana")), "version"),
    ],
)
def test_hostile_and_broken_files_are_refused_with_a_reason(data, needle):
    with pytest.raises(ParseError, match=needle):
        parse_ctf(data)


def test_oversized_file_is_refused():
    data = g.ctf_bytes(list(g.many_pupils(50)))
    with pytest.raises(ParseError, match="over the limit"):
        parse_ctf(data, max_bytes=len(data) - 1)
    assert len(parse_ctf(data, max_bytes=len(data)).pupils) == 50


def test_streaming_read_stays_in_bounded_memory():
    """20,000 pupils (~25 MB of XML) read with peak Python allocations far below that."""
    tracemalloc.start()
    reader = CtfReader(g.ctf_chunks(g.many_pupils(20_000), g.CtfOptions()), detail=False)
    count = sum(1 for _ in reader.pupils())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert reader.bytes_read > 20_000_000
    assert peak < 8_000_000


_name = st.text(st.characters(categories=("L",), max_codepoint=0x17F), min_size=1, max_size=30)


@given(
    surname=_name,
    forename=_name,
    dob=st.dates(date(2005, 1, 1), date(2022, 12, 31)),
    serial=st.integers(0, 999),
    sex_tag=st.sampled_from(["Sex", "Gender"]),
    address=st.sampled_from(["bs7666", "lines"]),
    chunk=st.integers(1, 4096),
)
def test_round_trip_of_generated_pupils(surname, forename, dob, serial, sex_tag, address, chunk):
    upn = g.make_upn("807", "3000", 24, serial)
    pupil = replace(g.sample_pupil(), surname=surname, forename=forename, dob=dob, upn=upn)
    data = g.ctf_bytes([pupil], g.CtfOptions(sex_tag=sex_tag, address=address))
    # Any chunking of the bytes reads the same.
    reader = CtfReader(data[i : i + chunk] for i in range(0, len(data), chunk))
    (p,) = list(reader.pupils())
    assert (p.surname, p.forename, p.dob, p.upn) == (surname.strip(), forename.strip(), dob, upn)
    assert p.upn_check is not None and p.upn_check.valid


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_escape_as_anything_but_parse_error(data):
    # Anything other than ParseError escaping (a crash, an XML error) fails the test.
    with contextlib.suppress(ParseError):
        parse_ctf(data)


@given(st.integers(0, 2000))
def test_any_truncation_of_a_ctf_is_refused(cut):
    data = g.ctf_bytes([g.sample_pupil()])
    cut = min(cut, len(data) - 3)
    with pytest.raises(ParseError):
        parse_ctf(data[:cut])


_BOMS = st.sampled_from([b"", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00"])
_CODECS = st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "iso-8859-1"])


@given(bom=_BOMS, codec=_CODECS, text=st.text(max_size=300), chunk=st.integers(1, 512))
def test_arbitrary_text_in_any_encoding_gives_parse_error_only(bom, codec, text, chunk):
    data = bom + text.encode(codec, "replace")
    with contextlib.suppress(ParseError):
        reader = CtfReader(data[i : i + chunk] for i in range(0, len(data), chunk))
        list(reader.pupils())


@given(
    encoding=st.sampled_from(sorted(g.HOSTILE_ENCODINGS)),
    subset=st.sampled_from(["", ' [<!ENTITY e "e">]', ' SYSTEM "file:///etc/passwd"']),
    cut=st.integers(0, 3000),
    junk=st.binary(max_size=8),
)
def test_a_doctype_is_never_accepted_whatever_follows(encoding, subset, cut, junk):
    body = g.ctf_bytes([g.sample_pupil()]).decode().split("?>", 1)[1].lstrip()
    data = g.encoded(f"<!DOCTYPE CTfile{subset}>\n{body}", encoding)
    cut = min(cut, len(data))
    with pytest.raises(ParseError):
        parse_ctf(data[:cut] + junk + data[cut:] if junk else data)


def _rebuilt(value):
    """The same value made through the dataclasses' own constructors, all the way down."""
    if isinstance(value, tuple):
        return tuple(_rebuilt(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        names = {f.name for f in fields(value)}
        assert set(vars(value)) == names  # every field set, nothing else
        return type(value)(**{n: _rebuilt(getattr(value, n)) for n in names})
    return value


@pytest.mark.parametrize("detail", [True, False])
@pytest.mark.parametrize("address", ["bs7666", "lines"])
def test_pupils_are_whole_instances_equal_to_what_their_constructors_make(detail, address):
    # parse_pupil builds its frozen records without their __init__ (for speed); each must
    # still be the instance the constructor would make, with the same hash.
    pupils = [*g.many_pupils(40), g.sample_pupil(upn="X807300024001", postcode="TS99 ZZZ")]
    data = g.ctf_bytes(pupils, g.CtfOptions(address=address))
    for p in CtfReader([data], detail=detail).pupils():
        again = _rebuilt(p)
        assert again == p and hash(again) == hash(p) and repr(again) == repr(p)


def test_only_pupils_directly_in_the_pupil_data_count_after_the_first():
    # Once a pupil has been read the reader knows CTFpupilData and skips its checks for
    # its children: a Header or a nested Pupil met later is still not read as a pupil.
    pupils = [g.sample_pupil(forename=name) for name in ("Amy", "Ben", "Cal")]
    data = g.ctf_bytes(pupils)
    at = data.index(b"</Pupil>") + len(b"</Pupil>")
    stray = data[data.index(b"<Pupil>") : at]
    data = data[:at] + b"<Header/><Wrap>" + stray + b"</Wrap>" + data[at:]
    reader = CtfReader([data[i : i + 500] for i in range(0, len(data), 500)])
    read = list(reader.pupils())
    assert [p.forename for p in read] == ["Amy", "Ben", "Cal"]
    assert [p.position for p in read] == [1, 2, 3]
    assert reader.header.source.laestab == "8073000"

"""Streaming Common Transfer File reader: chunks of bytes in, a header and pupils out."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from lxml import etree

from parsers.errors import ParseError
from parsers.identifiers import UpnCheck, check_upn, normalise_postcode
from parsers.xmlsafe import check_parsed, safe_pull_parser

#: Versions this reader was written against; older ones lack fields we rely on.
MIN_VERSION = 17
MAX_VERSION = 26
#: A region's batch of CTFs can be large, but a file beyond this is a mistake or an attack.
MAX_CTF_BYTES = 512 * 1024 * 1024
CHUNK_BYTES = 256 * 1024

LOST_CODES = frozenset({"XXXXXXX", "XXX", "XXXX"})
OUT_OF_S2S_CODES = frozenset({"MMMMMMM", "MMM", "MMMM"})
SEXES = frozenset({"M", "F", "U", "W", "9"})
# A DOCTYPE may only stand in the prolog; once the root element has opened it cannot appear.
# This byte scan refuses one early in ASCII-compatible encodings; check_parsed() refuses
# one in any encoding libxml2 reads (UTF-16 with or without a BOM, UTF-32...).
_DANGEROUS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_REFUSED_FIX = "export the CTF again without them"
_T = TypeVar("_T")


class DestinationKind(StrEnum):
    LOST = "lost"
    OUT_OF_S2S = "out_of_s2s"
    SCHOOL = "school"


class ProblemKind(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class PupilProblem:
    """One thing a pupil record lacks or gets wrong, for the school to put right."""

    field: str
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class CtfSchool:
    lea: str
    estab: str
    urn: str | None = None
    name: str | None = None
    academic_year: str | None = None

    @property
    def laestab(self) -> str:
        return f"{self.lea}{self.estab}"


@dataclass(frozen=True)
class CtfHeader:
    document_name: str | None
    version: str
    version_major: int
    date_time: str | None
    document_qualifier: str | None
    data_qualifier: str | None
    data_descriptor: str | None
    supplier_id: str | None
    source: CtfSchool
    dest: CtfSchool
    notes: tuple[str, ...] = ()

    @property
    def dest_kind(self) -> DestinationKind:
        return destination_kind(self.dest.laestab)

    @property
    def partial(self) -> bool:
        return (self.document_qualifier or "").lower() == "partial"


@dataclass(frozen=True)
class CtfAddress:
    style: str  # "bs7666" or "lines"
    lines: tuple[str, ...]
    postcode_raw: str | None
    postcode: str | None
    county: str | None = None
    country: str | None = None
    uprn: str | None = None


@dataclass(frozen=True)
class CtfPhone:
    kind: str | None
    number: str


@dataclass(frozen=True)
class CtfContact:
    order: int | None
    title: str | None
    surname: str | None
    forename: str | None
    relationship: str | None
    responsibility: bool | None
    address: CtfAddress | None
    address_as_pupil: bool
    phones: tuple[CtfPhone, ...] = ()
    email: str | None = None


@dataclass(frozen=True)
class CtfSchoolSpell:
    lea: str | None
    estab: str | None
    name: str | None
    entry_date: date | None
    leaving_date: date | None
    leaving_reason: str | None
    removal_grounds: str | None


@dataclass(frozen=True)
class CtfPupil:
    position: int
    upn: str | None
    upn_check: UpnCheck | None
    surname: str | None
    forename: str | None
    dob: date | None
    sex: str | None
    uln: str | None = None
    uci: str | None = None
    middle_names: str | None = None
    preferred_surname: str | None = None
    preferred_forename: str | None = None
    former_surnames: tuple[str, ...] = ()
    former_forenames: tuple[str, ...] = ()
    former_upns: tuple[str, ...] = ()
    nc_year: str | None = None
    address: CtfAddress | None = None
    phones: tuple[CtfPhone, ...] = ()
    email: str | None = None
    contacts: tuple[CtfContact, ...] = ()
    school_history: tuple[CtfSchoolSpell, ...] = ()
    problems: tuple[PupilProblem, ...] = field(default_factory=tuple)
    #: False when read for the index only: contacts, phones, address lines were skipped.
    detail: bool = True

    @property
    def last_school(self) -> CtfSchoolSpell | None:
        """The spell with the latest leaving (or entry) date: where the pupil left from."""
        if not self.school_history:
            return None
        return max(
            self.school_history,
            key=lambda s: (s.leaving_date or date.max, s.entry_date or date.min),
        )


@dataclass(frozen=True)
class CtfFile:
    header: CtfHeader
    pupils: tuple[CtfPupil, ...]


def destination_kind(laestab: str) -> DestinationKind:
    code = laestab.strip().upper()
    if code in LOST_CODES or set(code) == {"X"}:
        return DestinationKind.LOST
    if code in OUT_OF_S2S_CODES or set(code) == {"M"}:
        return DestinationKind.OUT_OF_S2S
    return DestinationKind.SCHOOL


def _built(cls: type[_T], values: dict[str, Any]) -> _T:
    """A frozen dataclass made from a value for every field, without running its __init__.

    A frozen __init__ sets each field through object.__setattr__, which for the 23 fields
    of a pupil cost more than reading the pupil's XML; the instance is the same (equality,
    hash, repr read the fields). Only for classes with no __post_init__, every field given.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


def _text(el: Any) -> str | None:
    if el is None:
        return None
    value = (el.text or "").strip()
    return value or None


def _children(el: Any) -> dict[str, Any]:
    """First child of each tag name (CTF repeats only in known list elements)."""
    out: dict[str, Any] = {}
    for child in el:
        # Comments and PIs are removed by the parser, so every tag here is a string.
        out.setdefault(child.tag, child)
    return out


def _texts(el: Any) -> dict[str, str | None]:
    """The stripped text of the first child of each tag name: `_text` over `_children`."""
    out: dict[str, str | None] = {}
    for child in el:
        tag = child.tag
        if tag not in out:
            value = child.text
            out[tag] = (value.strip() or None) if value else None
    return out


def _date(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _school(el: Any, where: str) -> CtfSchool:
    if el is None:
        raise ParseError(f"the CTF header has no {where}; the file cannot be attributed")
    kids = _children(el)
    lea, estab = _text(kids.get("LEA")), _text(kids.get("Estab"))
    if not lea or not estab:
        raise ParseError(f"the CTF header's {where} lacks its LEA or Estab code")
    return CtfSchool(
        lea=lea,
        estab=estab,
        urn=_text(kids.get("URN")),
        name=_text(kids.get("SchoolName")),
        academic_year=_text(kids.get("AcademicYear")),
    )


def parse_header(el: Any) -> CtfHeader:
    kids = _children(el)
    raw_version = _text(kids.get("CTFversion"))
    if raw_version is None:
        raise ParseError("the CTF header has no CTFversion; this does not look like a CTF")
    match = re.match(r"^(\d+)(?:\.\d+)?$", raw_version)
    if not match:
        raise ParseError(f"the CTF version {raw_version!r} is not a version number like '25.0'")
    major = int(match.group(1))
    notes: list[str] = []
    if major < MIN_VERSION:
        raise ParseError(
            f"CTF version {raw_version} is older than this reader supports "
            f"({MIN_VERSION} onwards); ask the school to export a current CTF"
        )
    if major > MAX_VERSION:
        # Newer versions add fields; the ones we read have stayed put for years.
        notes.append(
            f"CTF version {raw_version} is newer than {MAX_VERSION}; read as {MAX_VERSION}"
        )
    return CtfHeader(
        document_name=_text(kids.get("DocumentName")),
        version=raw_version,
        version_major=major,
        date_time=_text(kids.get("DateTime")),
        document_qualifier=_text(kids.get("DocumentQualifier")),
        data_qualifier=_text(kids.get("DataQualifier")),
        data_descriptor=_text(kids.get("DataDescriptor")),
        supplier_id=_text(kids.get("SupplierID")),
        source=_school(kids.get("SourceSchool"), "SourceSchool"),
        dest=_school(kids.get("DestSchool"), "DestSchool"),
        notes=tuple(notes),
    )


#: Postcode-only addresses (detail=False) by raw postcode: they are immutable, and
#: postcodes repeat within a file (a street, a school's catchment). Bounded.
_POSTCODE_ONLY: dict[str | None, CtfAddress] = {}
_POSTCODE_ONLY_MAX = 4096


def _postcode_only(raw: str | None) -> CtfAddress:
    found = _POSTCODE_ONLY.get(raw)
    if found is None:
        if len(_POSTCODE_ONLY) >= _POSTCODE_ONLY_MAX:
            _POSTCODE_ONLY.clear()
        found = _POSTCODE_ONLY[raw] = _built(
            CtfAddress,
            {
                "style": "",
                "lines": (),
                "postcode_raw": raw,
                "postcode": normalise_postcode(raw),
                "county": None,
                "country": None,
                "uprn": None,
            },
        )
    return found


def _address(el: Any, *, detail: bool = True) -> CtfAddress | None:
    if el is None:
        return None
    if not detail:
        return _postcode_only(_text(next(el.iterchildren("PostCode"), None)))
    kids = _children(el)
    bs = kids.get("BS7666Address")
    lines: list[str] = []
    uprn = None
    style = "lines"
    if bs is not None:
        style = "bs7666"
        b = _children(bs)
        saon, paon, street = (_text(b.get(t)) for t in ("SAON", "PAON", "Street"))
        if saon:
            lines.append(saon)
        first = " ".join(p for p in (paon, street) if p)
        if first:
            lines.append(first)
        for tag in ("Locality", "Town", "AdministrativeArea", "PostTown"):
            value = _text(b.get(tag))
            if value and value not in lines:
                lines.append(value)
        uprn = _text(b.get("UniquePropertyReferenceNumber"))
    else:
        al = kids.get("AddressLines")
        if al is not None:
            a = _children(al)
            for n in range(1, 6):
                value = _text(a.get(f"AddressLine{n}"))
                if value:
                    lines.append(value)
    raw_pc = _text(kids.get("PostCode"))
    return _built(
        CtfAddress,
        {
            "style": style,
            "lines": tuple(lines),
            "postcode_raw": raw_pc,
            "postcode": normalise_postcode(raw_pc),
            "county": _text(kids.get("County")),
            "country": _text(kids.get("Country")),
            "uprn": uprn,
        },
    )


def _phones(el: Any) -> tuple[CtfPhone, ...]:
    if el is None:
        return ()
    out = []
    for phone in el.iterchildren("Phone"):
        k = _children(phone)
        number = _text(k.get("PhoneNo"))
        if number:
            out.append(_built(CtfPhone, {"kind": _text(k.get("TelephoneType")), "number": number}))
    return tuple(out)


def _contacts(el: Any) -> tuple[CtfContact, ...]:
    if el is None:
        return ()
    out = []
    for contact in el.iterchildren("Contact"):
        k = _children(contact)
        order = _text(k.get("Order"))
        resp = _text(k.get("Responsibility"))
        out.append(
            CtfContact(
                order=int(order) if order and order.isdigit() else None,
                title=_text(k.get("Title")),
                surname=_text(k.get("Surname")),
                forename=_text(k.get("Forename")),
                relationship=_text(k.get("Relationship")),
                responsibility=None if resp is None else resp.lower() in {"true", "1", "y"},
                address=_address(k.get("Address")),
                address_as_pupil=(_text(k.get("AddressAsPupil")) or "").lower() in {"true", "1"},
                phones=_phones(k.get("Phones")),
                email=_text(k.get("Email")),
            )
        )
    return tuple(out)


def _history(el: Any) -> tuple[CtfSchoolSpell, ...]:
    if el is None:
        return ()
    out = []
    for school in el.iterchildren("School"):
        k = _texts(school)
        get = k.get
        spell = {
            "lea": get("LEA"),
            "estab": get("Estab"),
            "name": get("SchoolName"),
            "entry_date": _date(get("EntryDate")),
            "leaving_date": _date(get("LeavingDate")),
            "leaving_reason": get("LeavingReason"),
            "removal_grounds": get("RemovalGrounds"),
        }
        out.append(_built(CtfSchoolSpell, spell))
    return tuple(out)


def _problem(field_name: str, kind: ProblemKind, message: str) -> PupilProblem:
    return _built(PupilProblem, {"field": field_name, "kind": kind, "message": message})


def parse_pupil(el: Any, position: int, *, detail: bool = True) -> CtfPupil:
    """One Pupil element into a record plus the list of what is missing or wrong.

    With detail=False the contacts, phones and address lines are skipped: the index
    needs none of them, and reading them is most of the cost of a big file.
    """
    kids: dict[str, Any] = {}
    texts: dict[str, str | None] = {}
    for child in el:  # one pass: first child of each tag, and its stripped text
        tag = child.tag
        if tag not in kids:
            kids[tag] = child
            value = child.text
            texts[tag] = (value.strip() or None) if value else None
    problems: list[PupilProblem] = []
    add = problems.append
    missing, invalid = ProblemKind.MISSING, ProblemKind.INVALID

    upn_raw = texts.get("UPN")
    upn_check = check_upn(upn_raw) if upn_raw else None
    if upn_check is None:
        add(_problem("UPN", missing, "UPN is missing"))
    elif not upn_check.valid:
        add(_problem("UPN", invalid, f"UPN {upn_check.value}: " + "; ".join(upn_check.problems)))
    surname, forename = texts.get("Surname"), texts.get("Forename")
    if not surname:
        add(_problem("Surname", missing, "surname is missing"))
    if not forename:
        add(_problem("Forename", missing, "forename is missing"))
    dob_raw = texts.get("DOB")
    dob = _date(dob_raw)
    if dob_raw is None:
        add(_problem("DOB", missing, "date of birth is missing"))
    elif dob is None:
        add(_problem("DOB", invalid, f"date of birth {dob_raw!r} is not a yyyy-mm-dd date"))
    # The first Sex element if there is one (even empty), else the older files' Gender.
    sex_raw = texts["Sex"] if "Sex" in texts else texts.get("Gender")
    sex = sex_raw.upper() if sex_raw else None
    if sex is None:
        add(_problem("Sex", missing, "sex is missing"))
    elif sex not in SEXES:
        add(_problem("Sex", invalid, f"sex {sex!r} is not one of M, F, U, W, 9"))
        sex = None

    basic = kids.get("BasicDetails")
    former_upns: list[str] = []
    former_surnames: list[str] = []
    former_forenames: list[str] = []
    preferred_surname = preferred_forename = middle = nc_year = None
    if basic is not None:
        for child in basic:
            value = child.text
            if not value:
                continue
            value = value.strip()
            if not value:
                continue
            tag = child.tag
            if tag == "PreferredSurname":
                preferred_surname = value
            elif tag == "PreferredForename":
                preferred_forename = value
            elif tag == "MiddleNames":
                middle = value
            elif tag == "NCyearActual":
                nc_year = value
            elif tag == "FormerUPN":
                check = check_upn(value)
                former_upns.append(check.value)
                if not check.valid:
                    message = f"former UPN {check.value}: " + "; ".join(check.problems)
                    add(_problem("FormerUPN", invalid, message))
            elif tag == "FormerSurname":
                former_surnames.append(value)
            elif tag == "FormerForename":
                former_forenames.append(value)

    address = _address(kids.get("Address"), detail=detail)
    if address is None:
        add(_problem("Address", missing, "address is missing"))
    elif address.postcode_raw is None:
        add(_problem("PostCode", missing, "postcode is missing"))
    elif address.postcode is None:
        message = f"postcode {address.postcode_raw!r} is not a valid UK postcode"
        add(_problem("PostCode", invalid, message))

    history = kids.get("SchoolHistory")
    return _built(
        CtfPupil,
        {
            "position": position,
            "upn": upn_check.value if upn_check else None,
            "upn_check": upn_check,
            "surname": surname,
            "forename": forename,
            "dob": dob,
            "sex": sex,
            "uln": texts.get("UniqueLearnerNumber"),
            "uci": texts.get("UCI"),
            "middle_names": middle,
            "preferred_surname": preferred_surname,
            "preferred_forename": preferred_forename,
            "former_surnames": tuple(former_surnames),
            "former_forenames": tuple(former_forenames),
            "former_upns": tuple(former_upns),
            "nc_year": nc_year,
            "address": address,
            "phones": _phones(kids.get("Phones")) if detail else (),
            "email": texts.get("Email"),
            "contacts": _contacts(kids.get("Contacts")) if detail else (),
            "school_history": () if history is None else _history(history),
            "problems": tuple(problems),
            "detail": detail,
        },
    )


class CtfReader:
    """Reads a CTF from chunks of bytes in bounded memory; pupils are yielded as read.

    `header` is available once the Header element has been read (pulling chunks as
    needed); `pupils()` yields the rest and raises ParseError on any defect, including
    one found only at the end (a truncated file), so callers must not commit before the
    iterator is exhausted.
    """

    def __init__(
        self, chunks: Iterable[bytes], *, max_bytes: int = MAX_CTF_BYTES, detail: bool = True
    ) -> None:
        self._detail = detail
        self._chunks = iter(chunks)
        self._max = max_bytes
        self._size = 0
        self._prolog = b""
        self._root_seen = False
        self._parser = safe_pull_parser(events=("end",), tag=("Header", "Pupil"))
        self._header: CtfHeader | None = None
        self._pending: deque[CtfPupil] = deque()
        #: The CTFpupilData element under the root, once a Pupil in it has been read.
        self._pupil_data: Any = None
        self._count = 0
        self._done = False

    @property
    def bytes_read(self) -> int:
        return self._size

    @property
    def pupil_count(self) -> int:
        return self._count

    @property
    def header(self) -> CtfHeader:
        while self._header is None:
            if not self._pump():
                raise ParseError("the file ended before the CTF Header; it is not a CTF")
        return self._header

    def pupils(self) -> Iterator[CtfPupil]:
        self.header  # noqa: B018  (pulls until the header is known)
        while True:
            while self._pending:
                yield self._pending.popleft()
            if not self._pump():
                break
        if self._count == 0:
            raise ParseError("the CTF holds no pupils; there is nothing to store")

    def _feed_check(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            raise ParseError(
                f"the file is over the limit of {self._max} bytes; split it into smaller CTFs"
            )
        if not self._root_seen:
            # Keep a little of the previous chunk so a split "<!DOC|TYPE" is still seen.
            window = self._prolog[-16:] + chunk
            if _DANGEROUS.search(window):
                raise ParseError(
                    "the file declares a DOCTYPE or entities, which are refused for safety; "
                    f"{_REFUSED_FIX}"
                )
            self._prolog = window

    def _pump(self) -> bool:
        """Feed one chunk and handle its events; False when the input has ended."""
        if self._done:
            return False
        chunk = next(self._chunks, None)
        try:
            if chunk is None:
                self._done = True
                if self._size == 0:
                    raise ParseError("the file is empty; it is not a CTF")
                root = self._parser.close()
                self._check_root(root)
            else:
                self._feed_check(chunk)
                self._parser.feed(chunk)
            self._handle_events()
        except etree.XMLSyntaxError as exc:
            raise ParseError(f"the CTF is not well-formed XML: {exc.msg}") from None
        return True

    def _check_root(self, el: Any) -> None:
        # Before anything of the document is used: the prolog has been read by now.
        check_parsed(el, what="file", fix=_REFUSED_FIX)
        root = el.getroottree().getroot()
        if root.tag != "CTfile":
            raise ParseError(f"the root element is {root.tag!r}, not 'CTfile': this is not a CTF")

    def _handle_events(self) -> None:
        # Only Header and Pupil ends are reported (lxml filters the rest in C).
        el: Any
        for _event, el in self._parser.read_events():
            if not self._root_seen:
                self._root_seen = True
                self._check_root(el)
            parent = el.getparent()
            if parent is None or parent is not self._pupil_data or el.tag != "Pupil":
                # lxml gives the same proxy for a node while one is held, so a Pupil
                # whose parent is the CTFpupilData already found needs no more checks.
                if el.tag == "Header":
                    if parent is None or parent.getparent() is not None:
                        continue
                    if self._header is not None:
                        raise ParseError("the CTF has two Header elements")
                    self._header = parse_header(el)
                    continue
                grand = None if parent is None else parent.getparent()
                if grand is None or grand.getparent() is not None:
                    continue  # a Pupil element elsewhere than CTFpupilData is not a pupil
                if self._header is not None:
                    self._pupil_data = parent
            if self._header is None:
                raise ParseError("a Pupil comes before the CTF Header; the file is malformed")
            self._count += 1
            self._pending.append(parse_pupil(el, self._count, detail=self._detail))
            # Drop the pupil and every earlier sibling so memory stays flat.
            el.clear()
            while el.getprevious() is not None:
                del parent[0]


def parse_ctf(data: bytes, *, max_bytes: int = MAX_CTF_BYTES) -> CtfFile:
    """A whole CTF held in memory (small files and tests); same checks as the stream."""
    chunks = (data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES))
    reader = CtfReader(chunks, max_bytes=max_bytes)
    header = reader.header
    return CtfFile(header=header, pupils=tuple(reader.pupils()))

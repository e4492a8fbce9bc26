"""A referral written as prose: the child, the family and the dates, each with its words."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from parsers.ages_dates import (
    AGE_MAX,
    AGE_MIN,
    DAY_MONTH,
    DOB_CUE,
    LAST_ATTENDED,
    LAST_SEEN,
    YEAR_GROUP,
    age_range_of_year,
    ages_in,
    when_at,
)
from parsers.child_name import find_child_name
from parsers.concerns import find_cues
from parsers.form_lines import ProseLine
from parsers.identifiers import (
    check_upn,
    find_dates,
    find_postcodes,
    find_upns,
    month_number,
    tidy_name,
)
from parsers.people import find_carers, find_siblings, find_writer
from parsers.phrases import CHILD_NOUN_RE, CHILD_NOUNS, lookup, number
from parsers.places import find_addresses, find_moves, find_schools
from parsers.prefilter import gated
from parsers.sentences import (
    Found,
    Sentence,
    clause_start,
    person_before,
    sentences,
)

_PRONOUN_SCHOOL = gated(
    r"\b(she|he)\b(?:['’]s)?(?:\s+(?:not|never|n['’]t|been|gone|going|go|goes|went|back|in|at|to|"
    r"into|off|out|of|attending|attended|attend|attends|stopped|started|left|is|was|has|had|does|did|"
    r"doesn['’]t|didn['’]t|hasn['’]t|isn['’]t|wasn['’]t|used|should|would|will|be|still|also|only|"
    r"currently|now|really|ever|properly|regularly|the|a|any))*\s+(?:school|attend(?:ed|ing|s)?|"
    r"lessons|year\s+\d{1,2}|reception)\b",
    re.IGNORECASE,
)
_CHILD_SEX = {k: v or "" for k, v in CHILD_NOUNS.items()}
_CHILD_NOUN = gated(r"\b(" + CHILD_NOUN_RE + r")\b", re.IGNORECASE)
_MY_OUR = re.compile(r"\b(?:my|our)\s+(?:\w+\s+)?$", re.I)
_WRITER_HOME = re.compile(
    r"\b(?:I|we)(?:['’]m|\s+am|\s+are|['’]re)?\s+(?:\w+\s+){0,2}?(?:live|living|lived|stay|staying|"
    r"moved|based)\b|\b(?:my|our)\s+(?:address|house|home|flat)\b",
    re.IGNORECASE,
)
_UNTIL = re.compile(r"\s+(?:until|till|up\s+to|up\s+until)\s+", re.IGNORECASE)
_LEFT_WHEN = re.compile(
    r"\bleft(?=\s+(?:in|at|on|before|after|over|around|during|at|last|this)\b)", re.IGNORECASE
)


@dataclass(frozen=True)
class ProseReading:
    """What the prose says: values by field name, the family, and the words behind each flag."""

    values: tuple[Found, ...]
    carers: tuple[Found, ...]
    siblings: tuple[Found, ...]
    safeguarding: tuple[Found, ...]
    urgent: tuple[Found, ...]
    anonymous: tuple[Found, ...]
    gaps: tuple[str, ...]
    defects: tuple[str, ...] = ()

    def value(self, name: str) -> Found | None:
        return next((f for f in self.values if f.name == name), None)


class _Reader:
    def __init__(self, found: list[Sentence], received: date | None, deadline: float) -> None:
        self._sentences = found
        self.received = received
        self.deadline = deadline
        self.defects: list[str] = []
        self.best: dict[str, Found] = {}
        self.gaps: list[str] = []
        self.names: list[str] = []
        self.sex_evidence: list[tuple[int, Found]] = []
        self.for_siblings: list[tuple[str, Found]] = []
        self.for_carers: list[tuple[str, Found]] = []

    @property
    def ss(self) -> Iterator[Sentence]:
        """The sentences, until the time limit: past it, what was read so far stands."""
        for n, s in enumerate(self._sentences):
            if n % 64 == 0 and time.monotonic() > self.deadline:
                note = "prose reading stopped at the time limit; the rest was skipped"
                if note not in self.defects:
                    self.defects.append(note)
                return
            yield s

    def child_name(self) -> None:
        named = find_child_name(self._sentences)
        for f in named.values:
            self.put(f)
        self.names.extend(named.names)
        if named.sex is not None:
            self.sex_evidence.append((0, named.sex))

    def put(self, f: Found) -> None:
        if f.sentence.quoted:
            f = Found(f.name, f.value, f.start, f.end, f.sentence, round(f.confidence - 0.1, 2))
        old = self.best.get(f.name)
        if old is None or f.confidence > old.confidence:
            self.best[f.name] = f

    @staticmethod
    def at(s: Sentence, name: str, value: object, start: int, end: int, conf: float) -> Found:
        return Found(name, value, s.start + start, s.start + end, s, conf)

    def who(self, s: Sentence, pos: int, back: int | None = None) -> str | None:
        start = (
            clause_start(s.text, pos)
            if back is None
            else max(clause_start(s.text, pos), pos - back)
        )
        return person_before(s.text, start, pos, self.names)

    # -- sex, age, year group ------------------------------------------------------------------
    def sex(self) -> None:
        """The sex the child's own nouns give; pronouns only where they speak of school or age."""
        for s in self.ss:
            for m in _CHILD_NOUN.finditer(s.text):
                sex = lookup(_CHILD_SEX, m.group(1))
                if sex:
                    mine = _MY_OUR.search(s.text[: m.start()])
                    rank = 2 if mine else 1
                    self.sex_evidence.append(
                        (rank, self.at(s, "sex", sex, m.start(), m.end(), 0.55))
                    )
            for m in _PRONOUN_SCHOOL.finditer(s.text):
                sex = "F" if m.group(1).lower() == "she" else "M"
                self.sex_evidence.append((3, self.at(s, "sex", sex, m.start(1), m.end(1), 0.5)))
        for rank in range(4):
            found = [f for r, f in self.sex_evidence if r == rank]
            if found:
                if len({f.value for f in found}) == 1:
                    self.put(found[0])
                return  # a girl and a boy in the same words: the officer decides

    def ages(self) -> None:
        if self.names:  # "Amelia Cross, 14, has been off school", "Maisie (11)"
            near = re.compile(r"\b" + r"\s+".join(map(re.escape, self.names)) + r"\s*(?:,|\()\s*"
                              r"(?:aged?\s+)?(\d{1,2})\s*(?=,|\)|(?:years?|yrs?)\b)")  # fmt: skip
            for s in self.ss:
                for m in near.finditer(s.text):
                    age = int(m.group(1))
                    if AGE_MIN <= age <= AGE_MAX:
                        self.put(self.at(s, "age_range", (age, age), m.start(1), m.end(1), 0.55))
        for s in self.ss:
            for lo, hi, start, end, who in ages_in(s.text, self.names):
                found = self.at(s, "age_range", (lo, hi), start, end, 0.55)
                if who == "child":
                    self.put(found)
                    pron = re.match(r"(she|he)\b", s.text[start:], re.IGNORECASE)
                    if pron:
                        sex = "F" if pron.group(1).lower() == "she" else "M"
                        said = self.at(s, "sex", sex, start, start + pron.end(), 0.5)
                        self.sex_evidence.append((3, said))
                elif who == "sibling":
                    self.for_siblings.append(("age_range", found))
            for m in YEAR_GROUP.finditer(s.text):
                if self.who(s, m.start()) not in ("child", None):
                    continue
                raw = m.group("n") or m.group("y") or m.group("p")
                value = "R" if m.group("r") else (str(number(raw)) if raw else "")
                if age_range_of_year(value) is not None:
                    self.put(self.at(s, "year_group", value, m.start(), m.end(), 0.55))

    def dob(self) -> None:
        """A date of birth only when the whole date is written; a birthday alone is kept apart."""
        for s in self.ss:
            for m in DOB_CUE.finditer(s.text):
                if self.who(s, m.start()) in ("carer", "sibling", "other", "writer"):
                    continue  # "her mum's DOB", "I was born"
                dates = find_dates(s.text[m.end() : m.end() + 40])
                if dates and dates[0].start <= 4:
                    d, at = dates[0], m.end() + dates[0].start
                    written = s.text[at : m.end() + d.end]
                    if self.received is not None and not (
                        self.received.year - 25 < d.value.year and d.value < self.received
                    ):
                        self.gaps.append(
                            f"date of birth {written!r} is not a plausible date of birth"
                        )
                        continue
                    self.put(self.at(s, "dob", d.value.isoformat(), at, m.end() + d.end, 0.55))
                    continue
                dm = DAY_MONTH.match(s.text, m.end())
                if dm is not None and not re.match(r"\s*,?\s*\d{2,4}\b", s.text[dm.end() :]):
                    day = int(dm.group("day") or dm.group("day2"))
                    mon = month_number(dm.group("mon") or dm.group("mon2") or "")
                    if mon and 1 <= day <= 31:
                        value = f"--{mon:02d}-{day:02d}"
                        self.put(self.at(s, "birthday", value, dm.start(), dm.end(), 0.5))

    # -- places and dates ----------------------------------------------------------------------
    def schools(self) -> None:
        for s in self.ss:
            for sm in find_schools(s.text):
                who = self.who(s, sm.cue_start)
                found = self.at(s, "school", sm.name, sm.start, sm.end, sm.confidence)
                if who == "sibling":
                    self.for_siblings.append(("school", found))
                elif who in ("child", None):
                    self.put(found)
                    left = _LEFT_WHEN.search(s.text, sm.end)
                    until = _UNTIL.match(s.text, sm.end)
                    if re.match(r"left\b", s.text[sm.cue_start :], re.IGNORECASE):
                        got = when_at(s.text, sm.end, self.received)
                    elif until is not None:  # "was at Redcar Primary until Christmas"
                        got = when_at(s.text, until.start(), self.received)
                    else:  # "used to go to Redcar Primary but left in the summer"
                        got = when_at(s.text, left.end(), self.received) if left else None
                    if got is not None:
                        self.date(s, "date_last_attended", *got)

    def dates(self) -> None:
        for s in self.ss:
            for pattern, name in (
                (LAST_ATTENDED, "date_last_attended"),
                (LAST_SEEN, "date_last_seen"),
            ):
                for m in pattern.finditer(s.text):
                    if self.who(s, m.start(), back=25) in ("carer", "sibling"):
                        continue
                    got = when_at(s.text, m.end(), self.received)
                    if got is None and name == "date_last_seen":
                        # "last seen at the park on Monday": the time may follow the place
                        near = re.match(r"\s*(?:[\w']+\s+){1,4}?(?=(?:on|in|at|since|around)\s)",
                                        s.text[m.end() :])  # fmt: skip
                        got = when_at(s.text, m.end() + near.end(), self.received) if near else None
                    if got is not None:
                        self.date(s, name, *got)

    def date(self, s: Sentence, name: str, iso: str | None, start: int, end: int) -> None:
        if iso is not None:
            self.put(self.at(s, name, iso, start, end, 0.5))
        else:
            self.put(self.at(s, name + "_text", s.text[start:end], start, end, 0.5))

    def writers_home(self, s: Sentence, pos: int) -> bool:
        """'I live at 14 Coast Road', 'my address is...': the writer's address, not the child's."""
        return (
            self.who(s, pos) == "writer"
            and _WRITER_HOME.search(s.text[clause_start(s.text, pos) : pos]) is not None
        )

    def address(self) -> None:
        """The child's address: the fullest one given, a town from the same sentence beside it."""
        found: list[tuple[int, Found]] = []
        for s in self.ss:
            others: list[tuple[int, int]] = []  # addresses of someone else, postcode and all
            for a in find_addresses(s.text):
                who = self.who(s, a.start)
                others.append((a.start, a.end))
                parts = {"address_line1": a.line1, "address_line2": a.line2, "town": a.town,
                         "postcode": a.postcode}  # fmt: skip
                conf = 0.55 if a.numbered else 0.45
                if who == "carer":
                    line = ", ".join(p for p in parts.values() if p)
                    self.for_carers.append(
                        ("address", self.at(s, "address", line, a.start, a.end, conf))
                    )
                elif who not in ("sibling", "other") and not self.writers_home(s, a.start):
                    others.pop()
                    score = (a.postcode is not None) * 4 + a.numbered * 2 + (a.line1 is not None)
                    found.append((score, self.at(s, "address", parts, a.start, a.end, conf)))
            for place, start, end in find_moves(s.text):
                if self.who(s, start) in ("child", None):
                    self.put(self.at(s, "new_address", place, start, end, 0.4))
            for pc, ps, pe in find_postcodes(s.text):
                if any(a <= ps < b for a, b in others) or self.writers_home(s, ps):
                    continue
                if self.who(s, ps) not in ("carer", "sibling", "other"):
                    parts = {"address_line1": None, "address_line2": None, "town": None,
                             "postcode": pc}  # fmt: skip
                    found.append((0, self.at(s, "address", parts, ps, pe, 0.4)))
        if not found:
            return
        _, best = max(found, key=lambda x: (x[0], -x[1].start))
        for key, value in best.value.items():
            other = next(
                (f for _, f in found if f.value.get(key) and f.sentence is best.sentence), None
            )
            if not value and key in ("town", "postcode") and other is not None:
                best_of_key, value = other, other.value[key]  # "live in Redcar, on Thwaites Lane"
            else:
                best_of_key = best
            if value:
                value = tidy_name(value) if key != "postcode" else value
                f = best_of_key
                self.put(Found(key, value, f.start, f.end, f.sentence, f.confidence))
        for s in self.ss:
            for upn, us, ue in find_upns(s.text):
                if check_upn(upn).valid:
                    self.put(self.at(s, "upn", upn, us, ue, 0.5))

    def family(self) -> tuple[list[Found], list[Found]]:
        carers = find_carers(self.ss, self.names)
        siblings = find_siblings(self.ss, self.names)
        for key, f in self.for_siblings:
            owner = _nearest(siblings, f)
            if owner is not None:
                owner.value.setdefault(key, list(f.value) if key == "age_range" else f.value)
        for key, f in self.for_carers:
            owner = _nearest(carers, f)
            if owner is not None:
                owner.value.setdefault(key, f.value)
        carers = [c for c in carers if set(c.value) - {"relationship"}]
        siblings = [s for s in siblings if set(s.value) - {"relationship"}]
        for f in find_writer(self.ss):
            self.put(f)
        return carers, siblings


def _nearest(people: list[Found], f: Found) -> Found | None:
    """The person named last before `f` in the same sentence."""
    before = [p for p in people if p.sentence is f.sentence and p.start <= f.start]
    return before[-1] if before else None


def read_prose(
    text: str,
    lines: Sequence[ProseLine],
    *,
    blocks: bool = False,
    received: date | None = None,
    deadline: float = float("inf"),
) -> ProseReading:
    """Everything the unlabelled lines say about the child, each value with its words.

    `blocks` says each line is a paragraph of its own (HTML, .docx); `received` is the
    message's date, which gives '14 October' its year. Nothing is guessed: an age is never a
    date of birth, 'since Easter' is never a date.
    """
    found, defects = sentences(text, lines, blocks=blocks, deadline=deadline)
    r = _Reader(found, received, deadline)
    r.child_name()
    r.ages()
    r.sex()
    r.dob()
    r.schools()
    r.dates()
    r.address()
    carers, siblings = r.family()
    safeguarding, urgent, anonymous = find_cues(found)
    return ProseReading(
        values=tuple(sorted(r.best.values(), key=lambda f: f.start)),
        carers=tuple(carers),
        siblings=tuple(siblings),
        safeguarding=tuple(safeguarding),
        urgent=tuple(urgent),
        anonymous=tuple(anonymous),
        gaps=tuple(r.gaps),
        defects=tuple(defects + r.defects),
    )


def read_notes(
    text: str, lines: Sequence[ProseLine], *, deadline: float = float("inf")
) -> ProseReading:
    """A labelled form's free text (reason, concerns, a DOB written as 'about 9'): ages and cues."""
    found, defects = sentences(text, lines, blocks=False, deadline=deadline)
    r = _Reader(found, None, deadline)
    r.ages()
    safeguarding, urgent, anonymous = find_cues(found)
    ages = tuple(f for f in r.best.values() if f.name == "age_range")
    cues = (tuple(safeguarding), tuple(urgent), tuple(anonymous))
    return ProseReading(ages, (), (), *cues, (), tuple(defects + r.defects))

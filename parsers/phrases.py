"""Words a person uses about a child and family in a referral: the prose reader's word lists."""

from __future__ import annotations

import re
from collections.abc import Iterable


def _split(text: str) -> list[str]:
    return text.split()


def _words(text: str) -> frozenset[str]:
    return frozenset(_split(text))


# Nouns that name a child, and the sex they give when they name *the* child.
CHILD_NOUNS: dict[str, str | None] = {
    "girl": "F", "little girl": "F", "young girl": "F", "lass": "F", "lassie": "F",
    "daughter": "F", "stepdaughter": "F", "step-daughter": "F", "granddaughter": "F",
    "niece": "F", "schoolgirl": "F",
    "boy": "M", "little boy": "M", "young boy": "M", "lad": "M", "young lad": "M",
    "little lad": "M", "son": "M", "stepson": "M", "step-son": "M", "grandson": "M",
    "nephew": "M", "schoolboy": "M",
    "child": None, "kid": None, "pupil": None, "student": None, "youngster": None,
    "teenager": None, "teen": None, "young person": None, "little one": None,
}  # fmt: skip

# A relative who looks after the child, normalised as a form's "Relationship" field writes it.
CARER_NOUNS: dict[str, str] = {
    "mum": "Mother", "mam": "Mother", "mom": "Mother", "mummy": "Mother", "mother": "Mother",
    "dad": "Father", "daddy": "Father", "father": "Father",
    "stepdad": "Stepfather", "step-dad": "Stepfather", "step dad": "Stepfather",
    "stepfather": "Stepfather", "step-father": "Stepfather",
    "stepmum": "Stepmother", "step-mum": "Stepmother", "step mum": "Stepmother",
    "stepmother": "Stepmother", "step-mother": "Stepmother",
    "nan": "Grandmother", "nana": "Grandmother", "nanna": "Grandmother", "nanny": "Grandmother",
    "gran": "Grandmother", "granny": "Grandmother", "grandma": "Grandmother",
    "grandmother": "Grandmother", "grandad": "Grandfather", "granddad": "Grandfather",
    "grandpa": "Grandfather", "grandfather": "Grandfather", "grandparents": "Grandparents",
    "aunt": "Aunt", "auntie": "Aunt", "aunty": "Aunt", "uncle": "Uncle",
    "foster carer": "Foster carer", "foster carers": "Foster carers",
    "foster mum": "Foster carer", "foster dad": "Foster carer", "guardian": "Guardian",
    "carer": "Carer", "parents": "Parents",
}  # fmt: skip

SIBLING_NOUNS: dict[str, str] = {
    "brother": "Brother", "sister": "Sister", "half-brother": "Half-brother",
    "half brother": "Half-brother", "half-sister": "Half-sister", "half sister": "Half-sister",
    "stepbrother": "Stepbrother", "step-brother": "Stepbrother", "stepsister": "Stepsister",
    "step-sister": "Stepsister", "twin": "Twin", "sibling": "Sibling",
}  # fmt: skip

# People in a sentence who are not the child: an age or address next to them is theirs.
OTHER_PEOPLE = frozenset(
    {"man", "woman", "lady", "bloke", "neighbour", "neighbours", "partner", "boyfriend",
     "girlfriend", "husband", "wife", "friend", "landlord", "teacher", "baby"}
)  # fmt: skip

# Capitalised words that are never a person's name, whatever their place in a sentence.
NOT_NAMES = _words(
    """i i'm i've i'd he she they we you it her him his hers them their my our your me us
    the a an this that these those some any no not there here who what when where which why
    mum mam mom mummy mother dad daddy father nan nana nanna gran granny grandma grandad
    grandpa aunt auntie aunty uncle brother sister sibling twin baby girl boy child kid lad
    lass son daughter pupil student family parent parents carer mr mrs miss ms mx dr sir
    madam dame lady lord rev school primary academy college nursery year reception class
    hello hi hiya dear thanks thank please sorry yes ok okay just also and but or so because
    anyway apparently maybe perhaps now today
    yesterday tomorrow again still never always sometimes monday tuesday wednesday thursday
    friday saturday sunday easter christmas xmas half term cme sen send ehcp csc dsl gp ta
    nhs dv pcso police social services council team officer regards best kind many cheers
    unfortunately hopefully obviously honestly she's he's they're it's there's that's
    hasn't isn't wasn't doesn't don't didn't can't won't haven't has is was does did
    can will would could should might must"""
)

MONTH_WORDS = _words(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec"""
)

# Words ending a street name, and words ending (or naming) a school.
STREET_SUFFIXES = (
    "Road", "Rd", "Street", "St", "Lane", "Ln", "Avenue", "Ave", "Close", "Crescent", "Cres",
    "Drive", "Dr", "Way", "Grove", "Place", "Terrace", "Court", "Gardens", "Square", "Walk",
    "View", "Parade", "Mews", "Row", "Green", "Rise", "Hill", "Park", "Bank", "Vale", "Wynd",
    "Chase", "Fields", "Croft", "Gate", "Lea", "Meadows", "Approach", "Mount", "Cottages",
    "Yard", "Garth", "Villas", "Circle", "Boulevard", "Broadway", "Estate", "Glade", "Dene",
)  # fmt: skip
SCHOOL_SUFFIXES = (
    "Primary School", "Primary Academy", "Primary", "Infant School", "Infants", "Junior School",
    "Juniors", "Academy", "High School", "Secondary School", "School", "College",
    "Sixth Form", "Nursery", "Grammar School", "Comprehensive",
)  # fmt: skip

# Terms and seasons a person gives instead of a date: kept as written, never made a date.
WHEN_WORDS = (
    "easter", "christmas", "xmas", "half term", "half-term", "the half term", "the holidays",
    "the summer", "the summer holidays", "summer", "the new year", "new year",
    "the start of term", "the end of term", "the start of the year", "september", "term",
    "last term", "this term", "last week", "last month", "last year", "the weekend",
)  # fmt: skip

NUMBER_WORDS: dict[str, int] = {
    w: n
    for n, w in enumerate(
        _split(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}

# A person's role when the writer says what they are to the child ("I'm their neighbour").
REFERRER_ROLES: dict[str, str] = {
    "neighbour": "Neighbour", "next door neighbour": "Neighbour", "friend": "Family friend",
    "family friend": "Family friend", "relative": "Relative", "teacher": "Teacher",
    "teaching assistant": "Teaching assistant", "childminder": "Childminder",
    "health visitor": "Health visitor", "school nurse": "School nurse", "nurse": "Nurse",
    "social worker": "Social worker", "youth worker": "Youth worker", "gp": "GP",
    "police officer": "Police officer", "pcso": "PCSO", "landlord": "Landlord",
    "housing officer": "Housing officer", "support worker": "Support worker",
    "family support worker": "Family support worker",
    "member of the public": "Member of the public",
}  # fmt: skip


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of the words (longest first, so 'little girl' beats 'girl')."""
    items = sorted(set(words), key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in items)


CHILD_NOUN_RE = alternation(CHILD_NOUNS)
CARER_NOUN_RE = alternation(CARER_NOUNS)
SIBLING_NOUN_RE = alternation([*SIBLING_NOUNS, *(f"{w}s" for w in SIBLING_NOUNS)])
MONTH_RE = alternation(MONTH_WORDS)
NUMBER_RE = r"\d{1,2}|" + alternation(NUMBER_WORDS)


def number(text: str) -> int | None:
    """'11' or 'eleven' -> 11."""
    low = text.lower()
    return int(low) if low.isdigit() else NUMBER_WORDS.get(low)


def lookup(table: dict[str, str], phrase: str) -> str | None:
    """The table's value for a phrase written with any spacing or case."""
    return table.get(" ".join(phrase.lower().split()))

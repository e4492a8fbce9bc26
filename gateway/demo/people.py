"""Invented children, families and schools for the demo, and lost-pupil CTFs about them.

Every name, address and establishment number here is made up; UPNs carry correct check
letters (so the service takes them) under LA 807 and its neighbours 805, 806 and 808.
The same seed gives the same people, so a load is reproducible; each further load of the
demo (`cme demo --force`) takes a new seed, other dates of birth and other UPNs, so its
children are new ones, never taken for the earlier load's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from xml.sax.saxutils import escape

from parsers.identifiers import upn_check_letter

SURNAMES = (
    "Ashcombe", "Brackley", "Calloway", "Dunmore", "Ellery", "Fenwright", "Garside",
    "Hollinshead", "Ingleby", "Jessop", "Kettleby", "Larkworth", "Merriman", "Northcote",
    "Ormesby-Vane", "Pennock", "Quillan", "Rowntree", "Saltonstall", "Thwaite", "Upsall",
    "Varley", "Wetherby", "Yarrow", "Amblecote", "Birtwistle", "Coverdale", "Dewhirst",
    "Eastgate", "Fairholme", "Gisby", "Harraton", "Ivesdale", "Kilburn", "Lythgoe",
    "Marrick", "Nunthorpe", "Oxley", "Penhallow", "Redmarley", "Scarth", "Tollerton",
    "Uttley", "Wardle", "Yeadley", "Brandreth", "Cawthorne", "Dimmock", "Elstob",
    "Fothergill", "Grimsdale", "Hartburn", "Lazenby-Cole", "Mowbray", "Pickering-Hale",
    "Rigby", "Skelbrook", "Tennant", "Wilstrop", "Ackroyd",
)  # fmt: skip
GIRLS = (
    "Amelia", "Isla", "Freya", "Poppy", "Evie", "Lacey", "Skye", "Harper", "Ellie-Mae",
    "Darcy", "Maisie", "Aria", "Willow", "Ruby", "Esme", "Layla", "Orla", "Thea", "Nova",
    "Hallie", "Zara", "Bonnie", "Macy", "Elodie", "Phoebe", "Tilly",
)  # fmt: skip
BOYS = (
    "Alfie", "Jaxon", "Kai", "Harley", "Reuben", "Tommy", "Mason", "Ellis", "Brody",
    "Kian", "Logan", "Ollie", "Rory", "Tyler", "Zachary", "Finley", "Archie", "Ezra",
    "Louie", "Jenson", "Callum", "Riley", "Ibrahim", "Toby", "Frankie", "Dexter",
)  # fmt: skip
#: Long names with the short forms a referrer uses (the matcher knows these nicknames).
LONG_NAMES = {"Alexander": "Alex", "Elizabeth": "Lizzie", "Jacob": "Jake", "Samuel": "Sam"}
ADULTS_F = ("Kerry", "Leanne", "Gemma", "Stacey", "Nicola", "Danielle", "Joanne", "Kirsty")
ADULTS_M = ("Craig", "Darren", "Lee", "Wayne", "Jason", "Gary", "Stuart", "Shaun")
STREETS = (
    "Fernlea Road", "Saltmarsh Close", "Gullwing Avenue", "Harbour Mews", "Larkspur Walk",
    "Cobble Street", "Brineholm Way", "Tidewater Crescent", "Sandpiper Grove", "Kilnyard Lane",
    "Heronfold Drive", "Mariner's Court", "Windle Terrace", "Beacon Rise",
)  # fmt: skip
TOWNS = (("Redcar", "TS10"), ("Marske", "TS11"), ("Saltburn", "TS12"), ("Guisborough", "TS14"),
         ("Eston", "TS6"), ("Skelton", "TS12"))  # fmt: skip


@dataclass(frozen=True)
class School:
    laestab: str  # LA code + a made-up establishment number
    name: str

    @property
    def la(self) -> str:
        return self.laestab[:3]

    @property
    def estab(self) -> str:
        return self.laestab[3:]


SCHOOLS = (
    School("8073961", "Brambleside Primary School"),
    School("8073962", "Seaview Vale Primary School"),
    School("8073963", "Larkfield Junior School"),
    School("8074961", "Harbourside Academy"),
    School("8074962", "Moorgate Community School"),
    School("8053961", "Riverbend Primary School"),
    School("8063961", "Wharfside Primary School"),
    School("8064961", "Northfield Ridge Academy"),
    School("8083961", "Cleveland Hills Primary School"),
    School("8084961", "Stockwell Green Academy"),
)
OUR_SCHOOLS = tuple(s for s in SCHOOLS if s.la == "807")


def school(laestab: str) -> School:
    return next(s for s in SCHOOLS if s.laestab == laestab)


@dataclass(frozen=True)
class Carer:
    name: str
    relationship: str
    phone: str


@dataclass(frozen=True)
class Child:
    """One invented child with the family and school a referral would describe."""

    forename: str
    surname: str
    dob: date
    sex: str
    upn: str
    year_group: str
    address_line1: str
    town: str
    postcode: str
    school: School
    carers: tuple[Carer, ...] = ()
    middle_names: str | None = None
    siblings: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    def referral_values(self) -> dict[str, object]:
        """The child and family as ReferralInput's fields (a referral adds its own)."""
        return {
            "forename": self.forename,
            "surname": self.surname,
            "middle_names": self.middle_names,
            "dob": self.dob.isoformat(),
            "sex": self.sex,
            "upn": self.upn,
            "year_group": self.year_group,
            "address_line1": self.address_line1,
            "town": self.town,
            "postcode": self.postcode,
            "school": self.school.name,
            "carers": [
                {"name": c.name, "relationship": c.relationship, "phone": c.phone}
                for c in self.carers
            ],
            "siblings": list(self.siblings),
        }


def make_upn(la: str, estab: str, year: int, serial: int) -> str:
    """A permanent UPN (LA, establishment, year, serial) with its check letter."""
    body = f"{la}{estab}{year % 100:02d}{serial % 1000:03d}"
    return upn_check_letter(body) + body


def year_group(dob: date, today: date) -> str:
    """The national curriculum year in England (the school year starts on 1 September)."""
    start = today.year if today.month >= 9 else today.year - 1
    age_at_start = start - dob.year - (1 if (dob.month, dob.day) > (8, 31) else 0)
    year = age_at_start - 4
    return "R" if year <= 0 else str(min(year, 11))


class People:
    """A deterministic supply of invented children, none with the same name as another."""

    def __init__(self, load: int, today: date) -> None:
        self.rng = random.Random(807_000 + load)
        self.load = load
        self.today = today
        self.serial = 0
        self.used: set[tuple[str, str]] = set()

    def _phone(self) -> str:
        # Ofcom's drama range (07700 900000-900999): never a real number.
        return f"07700 900{self.rng.randrange(1000):03d}"

    def child(
        self,
        *,
        sex: str | None = None,
        age: tuple[int, int] = (5, 15),
        forename: str | None = None,
        surname: str | None = None,
        school_: School | None = None,
    ) -> Child:
        rng = self.rng
        sex = sex or rng.choice("MF")
        while True:
            first = forename or rng.choice(BOYS if sex == "M" else GIRLS)
            last = surname or rng.choice(SURNAMES)
            if (first, last) not in self.used:
                break
            forename = surname = None  # asked-for names already taken: invent others
        self.used.add((first, last))
        years = rng.randint(*age)
        # 365 is a multiple of 5: a day offset that is the load's number mod 5 keeps every
        # date of birth apart from the last four loads' (no two loads share a child).
        offset = 30 + 5 * rng.randrange(60) + self.load % 5
        dob = self.today - timedelta(days=365 * years + offset)
        place = school_ or rng.choice(OUR_SCHOOLS)
        town, district = rng.choice(TOWNS)
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        postcode = f"{district} {rng.randrange(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        self.serial += 1
        # The UPN's year part counts the loads, its serial the children of this load.
        upn = make_upn(place.la, place.estab, 20 + self.load, self.serial)
        mum = Carer(f"{rng.choice(ADULTS_F)} {last}", "mother", self._phone())
        carers: tuple[Carer, ...] = (mum,)
        if rng.random() < 0.4:
            carers += (Carer(f"{rng.choice(ADULTS_M)} {last}", "father", self._phone()),)
        return Child(
            forename=first,
            surname=last,
            dob=dob,
            sex=sex,
            upn=upn,
            year_group=year_group(dob, self.today),
            address_line1=f"{rng.randrange(1, 120)} {rng.choice(STREETS)}",
            town=town,
            postcode=postcode,
            school=place,
            carers=carers,
        )


# ---- lost-pupil files -----------------------------------------------------------------


def _el(tag: str, value: object | None) -> str:
    return "" if value is None else f"<{tag}>{escape(str(value))}</{tag}>"


def lost_pupil_ctf(child: Child, *, left_on: date, made_at: date, number: int) -> bytes:
    """The CTF a school sends for a pupil who left to an unknown destination (XXXXXXX).

    One pupil per file, as lost-pupil files are; the shape DfE's generators write (CTF 25).
    """
    s = child.school
    contacts = "".join(
        f"<Contact><Order>{i}</Order>{_el('Surname', c.name.split()[-1])}"
        f"{_el('Forename', c.name.split()[0])}<Relationship>PAR</Relationship>"
        "<Responsibility>true</Responsibility><AddressAsPupil>true</AddressAsPupil>"
        f"<Phones><Phone><TelephoneType>M</TelephoneType>{_el('PhoneNo', c.phone)}</Phone>"
        "</Phones></Contact>"
        for i, c in enumerate(child.carers, start=1)
    )
    house, _, street = child.address_line1.partition(" ")
    pupil = (
        "<Pupil>"
        f"{_el('UPN', child.upn)}{_el('Surname', child.surname)}{_el('Forename', child.forename)}"
        f"{_el('DOB', child.dob.isoformat())}{_el('Sex', child.sex)}"
        f"<BasicDetails>{_el('PreferredSurname', child.surname)}"
        f"{_el('MiddleNames', child.middle_names)}"
        f"{_el('NCyearActual', child.year_group)}</BasicDetails>"
        f"<Address><BS7666Address>{_el('PAON', house)}{_el('Street', street)}"
        f"{_el('Town', child.town)}{_el('PostTown', child.town)}</BS7666Address>"
        f"{_el('PostCode', child.postcode)}<Country>GBR</Country></Address>"
        f"<Contacts>{contacts}</Contacts>"
        f"<SchoolHistory><School>{_el('LEA', s.la)}{_el('Estab', s.estab)}"
        f"{_el('SchoolName', s.name)}<EntryDate>{left_on.year - 2}-09-01</EntryDate>"
        f"{_el('LeavingDate', left_on.isoformat())}<LeavingReason>CME</LeavingReason>"
        "<RemovalGrounds>9(1)(i)</RemovalGrounds></School></SchoolHistory>"
        "</Pupil>"
    )
    academic = made_at.year if made_at.month >= 9 else made_at.year - 1
    header = (
        "<Header><DocumentName>Common Transfer File</DocumentName><CTFversion>25.0</CTFversion>"
        f"<DateTime>{made_at.isoformat()}T09:{number % 60:02d}:00</DateTime>"
        "<DocumentQualifier>partial</DocumentQualifier>"
        "<DataDescriptor>CME demo: invented pupil</DataDescriptor><SupplierID>CMEDEMO</SupplierID>"
        f"<SourceSchool>{_el('LEA', s.la)}{_el('Estab', s.estab)}{_el('SchoolName', s.name)}"
        f"<AcademicYear>{academic}/{(academic + 1) % 100:02d}</AcademicYear></SourceSchool>"
        "<DestSchool><LEA>XXX</LEA><Estab>XXXX</Estab></DestSchool></Header>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>'
        + header
        + f"<CTFpupilData>{pupil}</CTFpupilData></CTfile>\n"
    ).encode()


def ctf_file_name(child: Child, number: int) -> str:
    """`<LA><Estab>_CTF_XXXXXXX_<nnn>.xml`, as a school's MIS names a lost-pupil file."""
    return f"{child.school.laestab}_CTF_XXXXXXX_{number:03d}.xml"

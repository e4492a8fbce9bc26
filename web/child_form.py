"""The form that corrects a child's details: its boxes, read and checked, errors beside each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.cases.inputs import Problem
from gateway.cases.labels import FIELDS, YEAR_GROUPS
from gateway.models.child import Child
from web.form_errors import FormErrors

DATE_PARTS = ("day", "month", "year")
#: The input each field's error links to (a date's error goes to its day box, as GOV.UK's do).
BOX = {
    "forename": "forename",
    "surname": "surname",
    "middle_names": "middle_names",
    "dob": "dob-day",
    "sex": "sex",
    "upn": "upn",
    "year_group": "year_group",
}
#: The longest value each text box may hold (the columns' sizes).
MAX_LENGTH = {"forename": 200, "surname": 200, "middle_names": 200, "upn": 13}
REQUIRED = {"forename": "Enter the child's first name", "surname": "Enter the child's last name"}
DOB_MESSAGE = "Date of birth must be a real date in the past, like 27 3 2014"
SEXES = (("F", "Female"), ("M", "Male"), ("", "Not known"))


@dataclass
class ChildForm:
    """What the boxes hold (to show them again) and what is wrong with them."""

    boxes: dict[str, str]
    errors: FormErrors = field(default_factory=FormErrors)

    @classmethod
    def from_child(cls, child: Child) -> ChildForm:
        dob = child.dob
        return cls(
            {
                "forename": child.forenames,
                "surname": child.surname,
                "middle_names": child.middle_names or "",
                "dob-day": str(dob.day) if dob else "",
                "dob-month": str(dob.month) if dob else "",
                "dob-year": str(dob.year) if dob else "",
                "sex": child.sex or "",
                "upn": child.upn or "",
                "year_group": child.year_group or "",
            }
        )

    @classmethod
    def from_post(cls, form: Mapping[str, str], child: Child) -> ChildForm:
        names = [*BOX, *(f"dob-{p}" for p in DATE_PARTS)]
        out = cls({k: str(form.get(k, "")).strip() for k in names if k != "dob"})
        for name, limit in MAX_LENGTH.items():
            if len(out.boxes[name]) > limit:
                out.errors.add(BOX[name], f"{FIELDS[name]} must be {limit} characters or fewer")
        if out.boxes["year_group"] not in year_group_choices(child):
            out.errors.add("year_group", "Select the child's year group from the list")
        if out.boxes["sex"] not in {code for code, _ in SEXES}:
            out.errors.add("sex", "Select the child's sex, or Not known")
        if out._dob() is False:
            out.errors.add("dob-day", DOB_MESSAGE)
        return out

    def _dob(self) -> date | bool | None:
        """The date in the three boxes; None when all are empty, False when not a date."""
        parts = [self.boxes[f"dob-{p}"] for p in DATE_PARTS]
        if not any(parts):
            return None
        if not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
            return False
        day, month, year = (int(p) for p in parts)
        try:
            return date(year, month, day)
        except ValueError:
            return False

    def values(self) -> dict[str, Any]:
        """The details for gateway.cases.facts.edit_child; a date in error is left as it was."""
        out: dict[str, Any] = {k: self.boxes[k] for k in BOX if k != "dob"}
        dob = self._dob()
        if dob is not False:
            out["dob"] = dob
        return out

    def add_problems(self, problems: Iterable[Problem]) -> None:
        """The service's problems with the values, each beside its box, in words."""
        for p in problems:
            self.errors.add(BOX.get(p.field, "forename"), problem_message(p))


def problem_message(problem: Problem) -> str:
    if problem.field in REQUIRED:
        return REQUIRED[problem.field]
    if problem.field == "dob":
        return "Date of birth must be the date of birth of a child of school age"
    text = problem.message
    name = FIELDS.get(problem.field)
    if name and text.startswith(problem.field):
        text = name + text[len(problem.field) :]
    return text[:1].upper() + text[1:]


def year_group_choices(child: Child) -> dict[str, str]:
    """Not known (""), each year group, and what the case holds if it is none of them."""
    choices = {"": "Not known", **YEAR_GROUPS}
    if child.year_group and child.year_group not in choices:
        choices[child.year_group] = f"{child.year_group} (as recorded)"
    return choices

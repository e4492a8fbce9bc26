"""From a score to what the officer sees: a proposed match, a candidate to review, or nothing."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

from gateway.matching.compare import F_DOB, F_FORENAME, F_PARENTS, F_SURNAME, F_UPN


class Decision(enum.StrEnum):
    PROPOSED = "proposed"  # the officer confirms with one click; never merged without that
    REVIEW = "review"
    NONE = "none"


class OfficerVerdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Thresholds:
    upper: float
    lower: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower <= self.upper <= 1.0:
            raise ValueError("matching thresholds must satisfy 0 <= lower <= upper <= 1")


# Patterns at which a record cannot be proposed as the same child whatever else agrees
# (a valid UPN match overrides them all):
# - a different forename: twins and siblings share everything else;
# - a date of birth that is not a slip of the pen: siblings, cousins and namesakes;
# - a different surname with anything less than the same forename and date of birth (a
#   changed surname is real, but then the rest must be certain);
# - a merely similar forename with a date that is not exact (a sibling one digit apart).
_FORENAME_CONFLICT = frozenset({5, 6})
_DOB_CONFLICT = frozenset({5, 6})
_SURNAME_UNRELATED = frozenset({7, 8})
_FORENAME_CERTAIN = frozenset({0, 1})
_DOB_CERTAIN = frozenset({0, 1})


def identity_conflict(levels: tuple[int, ...]) -> bool:
    """True when the pair disagrees on what tells siblings, twins and namesakes apart."""
    if levels[F_UPN] == 0:
        return False
    fore, dob, sur = levels[F_FORENAME], levels[F_DOB], levels[F_SURNAME]
    if fore in _FORENAME_CONFLICT or dob in _DOB_CONFLICT:
        return True
    if sur in _SURNAME_UNRELATED and (
        not (fore in _FORENAME_CERTAIN and dob in _DOB_CERTAIN) or levels[F_PARENTS] == 2
    ):
        # A changed surname must keep the link to a parent, where parents are named.
        return True
    return fore == 4 and dob not in _DOB_CERTAIN


def decide(
    probability: float,
    levels: tuple[int, ...],
    thresholds: Thresholds,
    *,
    family_guard: bool = True,
) -> Decision:
    """Upper threshold and (with the family guard) no identity conflict: proposed; above
    lower: review; else none."""
    if probability >= thresholds.upper and not (family_guard and identity_conflict(levels)):
        return Decision.PROPOSED
    if probability >= thresholds.lower:
        return Decision.REVIEW
    return Decision.NONE


# A store "holds families" when this share of its records share surname and postcode with
# another record: children's data always does (siblings); a register of adults rarely does.
FAMILY_SHARE = 0.10


def holds_families(keys: list[tuple[str, str]]) -> bool:
    """Whether records in a store come in families (surname, postcode) shared by several."""
    return holds_families_counted(Counter(k for k in keys if k[0] and k[1]))


def holds_families_counted(counts: Counter[tuple[str, str]]) -> bool:
    """holds_families from the count of each known (surname, postcode)."""
    known = sum(counts.values())
    if not known:
        return True  # no evidence: keep the guard, the safe side for children
    shared = sum(c for c in counts.values() if c > 1)
    return shared / known >= FAMILY_SHARE

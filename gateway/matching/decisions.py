"""From a score to what the officer sees: a proposed match, a candidate to review, or nothing."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.matching.compare import F_DOB, F_FORENAME, F_UPN


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


# Levels at which a record cannot be the same child whatever else agrees: a different
# forename (twins and siblings share everything else) or a date of birth that is not a
# slip of the pen (siblings, cousins and namesakes). A valid UPN match overrides both.
_FORENAME_CONFLICT = frozenset({5, 6})
_DOB_CONFLICT = frozenset({5, 6})


def identity_conflict(levels: tuple[int, ...]) -> bool:
    """True when the pair disagrees on what tells siblings, twins and namesakes apart."""
    if levels[F_UPN] == 0:
        return False
    return levels[F_FORENAME] in _FORENAME_CONFLICT or levels[F_DOB] in _DOB_CONFLICT


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
    from collections import Counter

    known = [k for k in keys if k[0] and k[1]]
    if not known:
        return True  # no evidence: keep the guard, the safe side for children
    counts = Counter(known)
    shared = sum(c for c in counts.values() if c > 1)
    return shared / len(known) >= FAMILY_SHARE

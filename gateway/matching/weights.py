"""Fellegi-Sunter weights: m and u per field level, the prior, and name frequencies."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.matching.compare import F_FORENAME, F_SURNAME, FIELDS, MISSING
from gateway.matching.normalise import canonical_variant

# Term-frequency adjustments are bounded: one rare name must not outweigh everything else.
TF_MAX_BITS = 5.0
TF_MIN_BITS = -5.0


@dataclass
class Model:
    """m[field][level], u[field][level], the match prior among blocked pairs, name counts."""

    m: list[list[float]]
    u: list[list[float]]
    prior: float = 0.05
    forename_freq: dict[str, float] = field(default_factory=dict)
    surname_freq: dict[str, float] = field(default_factory=dict)
    forename_group_freq: dict[str, float] = field(default_factory=dict)
    freq_floor: float = 1e-5
    _w: list[list[float]] = field(default_factory=list, repr=False)
    # Prior plus field weights of each pattern of levels seen, for the prior they were made
    # with (patterns repeat: a batch has a few thousand among hundreds of thousands of pairs).
    _bits: dict[tuple[int, ...], float] = field(default_factory=dict, repr=False)
    _bits_prior: float = field(default=-1.0, repr=False)

    def weights(self) -> list[list[float]]:
        """log2(m/u) per field and level (cached until m or u change)."""
        if not self._w:
            self._w = [
                [math.log2(max(mi, 1e-6) / max(ui, 1e-9)) for mi, ui in zip(mf, uf, strict=True)]
                for mf, uf in zip(self.m, self.u, strict=True)
            ]
        return self._w

    def reset(self) -> None:
        self._w = []
        self._bits = {}

    def pattern_bits(self, levels: tuple[int, ...]) -> float:
        """Prior bits plus the weight of each known level (name frequencies aside)."""
        if self._bits_prior != self.prior or not self._w:
            self._bits = {}
            self._bits_prior = self.prior
        bits = self._bits.get(levels)
        if bits is None:
            w = self.weights()
            bits = self.prior_bits
            for fi, lvl in enumerate(levels):
                if lvl != MISSING:
                    bits += w[fi][lvl]
            self._bits[levels] = bits
        return bits

    @property
    def prior_bits(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def variant_adjustment(self, value: str) -> float:
        """Fewer bits when the forename's spelling group is common (Muhammad, Mohammed,
        Mohamed... together): never more, as a variant is weaker than the name itself."""
        if not self.forename_group_freq:
            return 0.0
        observed = max(self.forename_group_freq.get(canonical_variant(value), 0.0), self.freq_floor)
        return max(TF_MIN_BITS, min(0.0, math.log2(self.u[F_FORENAME][1] / observed)))

    def tf_adjustment(self, fld: int, value: str) -> float:
        """Extra bits for exact agreement on a rare name, fewer for a common one."""
        if not self.forename_freq:  # no population to count names in: no adjustment
            return 0.0
        if fld == F_FORENAME:
            freq, base = self.forename_freq, self.u[F_FORENAME][0]
        elif fld == F_SURNAME:
            freq, base = self.surname_freq, self.u[F_SURNAME][0]
        else:
            return 0.0
        observed = max(freq.get(value, 0.0), self.freq_floor)
        return max(TF_MIN_BITS, min(TF_MAX_BITS, math.log2(base / observed)))


def frequencies(values: Iterable[str]) -> dict[str, float]:
    counts = Counter(v for v in values if v)
    total = sum(counts.values()) or 1
    return {k: c / total for k, c in counts.items()}


def collision_probability(a: dict[str, float], b: dict[str, float]) -> float:
    """Chance two records drawn from a and b share a value: u for exact agreement."""
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return sum(p * large.get(v, 0.0) for v, p in small.items())


def default_m() -> list[list[float]]:
    """Starting m (or the whole m without training): what a true match usually looks like."""
    start = {
        "forename": [0.80, 0.06, 0.05, 0.04, 0.02, 0.005, 0.025],
        "surname": [0.84, 0.03, 0.02, 0.02, 0.04, 0.01, 0.01, 0.01, 0.02],
        "middle_names": [0.9, 0.1],
        "dob": [0.88, 0.03, 0.04, 0.015, 0.015, 0.005, 0.015],
        "sex": [0.99, 0.01],
        "upn": [0.97, 0.01, 0.02],
        "address": [0.2, 0.02, 0.03, 0.15, 0.6],
        "parents": [0.85, 0.1, 0.05],
        "school": [0.9, 0.05, 0.05],
        "year_group": [0.97, 0.02, 0.01],
    }
    return [list(start[f.name]) for f in FIELDS]


def estimate_u(pairs: list[tuple[int, ...]], exact_u: dict[int, float]) -> list[list[float]]:
    """u from levels of random (almost surely non-matching) pairs, smoothed; exact levels
    where given come from value frequencies, which a sample cannot resolve."""
    out: list[list[float]] = []
    for fi, spec in enumerate(FIELDS):
        n = len(spec.levels)
        counts = [0.0] * n
        for levels in pairs:
            lvl = levels[fi]
            if lvl != MISSING:
                counts[lvl] += 1
        total = sum(counts)
        # Half a pair of prior for every level: unseen levels are rare, not impossible.
        u = [(c + 0.5) / (total + 0.5 * n) for c in counts]
        if fi in exact_u:
            rest = sum(u[1:])
            u = [exact_u[fi]] + [x * (1 - exact_u[fi]) / rest for x in u[1:]]
        out.append(u)
    return out


def em(
    patterns: Counter[tuple[int, ...]],
    u: list[list[float]],
    m0: list[list[float]],
    prior0: float,
    iterations: int = 30,
    ignore: frozenset[int] = frozenset(),
    fixed_m: bool = False,
) -> tuple[list[list[float]], float]:
    """Expectation-maximisation of m and the prior over comparison patterns, u held fixed.

    Fields in `ignore` (those the pairs were selected on, whose agreement is then no evidence)
    take no part; with fixed_m only the prior is estimated.
    """
    m = [list(x) for x in m0]
    prior = prior0
    items = [
        (tuple(MISSING if fi in ignore else lvl for fi, lvl in enumerate(levels)), count)
        for levels, count in patterns.items()
    ]
    last = -1.0
    for _ in range(iterations):
        acc = [[1e-3] * len(f.levels) for f in FIELDS]
        tot_r = 0.0
        total = 0.0
        for levels, count in items:
            pm, pu = prior, 1.0 - prior
            for fi, lvl in enumerate(levels):
                if lvl != MISSING:
                    pm *= m[fi][lvl]
                    pu *= u[fi][lvl]
            r = pm / (pm + pu) if pm + pu > 0 else 0.0
            w = r * count
            tot_r += w
            total += count
            for fi, lvl in enumerate(levels):
                if lvl != MISSING:
                    acc[fi][lvl] += w
        for fi in range(len(FIELDS)):
            if fixed_m or fi in ignore:
                continue
            s = sum(acc[fi])
            m[fi] = [max(a / s, 1e-4) for a in acc[fi]]
        prior = min(max(tot_r / total, 1e-6), 0.5)
        if abs(prior - last) < 1e-5:
            break
        last = prior
    return m, prior


def default_u() -> list[list[float]]:
    """u without training data: how often unrelated children agree at each level (a name
    shared by chance, one birthday in ~4,700 across a school-age population, a shared
    postcode rarely). Used when there is too little data for estimation."""
    start = {
        "forename": [0.003, 0.002, 0.004, 0.001, 0.002, 0.0001, 0.9878],
        "surname": [0.002, 0.0005, 0.0005, 0.0002, 0.0006, 0.001, 0.001, 0.001, 0.9932],
        "middle_names": [0.04, 0.96],
        "dob": [0.0003, 0.0001, 0.005, 0.0003, 0.002, 0.005, 0.9873],
        "sex": [0.5, 0.5],
        "upn": [0.0001, 0.0001, 0.9998],
        "address": [0.0001, 0.0005, 0.001, 0.1, 0.8984],
        "parents": [0.0005, 0.02, 0.9795],
        "school": [0.002, 0.08, 0.918],
        "year_group": [0.07, 0.14, 0.79],
    }
    return [list(start[f.name]) for f in FIELDS]

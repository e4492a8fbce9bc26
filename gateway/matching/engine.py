"""The matching engine: block, compare, weigh, rank and explain candidates for a query."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gateway.matching.blocking import BlockingIndex, query_keys, store_keys
from gateway.matching.compare import (
    F_DOB,
    F_FORENAME,
    F_MIDDLE,
    F_SURNAME,
    F_YG,
    FIELDS,
    MISSING,
    compare,
    field_values,
)
from gateway.matching.decisions import Decision, Thresholds, decide, holds_families
from gateway.matching.features import Features, prepare
from gateway.matching.normalise import canonical_variant
from gateway.matching.records import PersonRecord
from gateway.matching.weights import (
    Model,
    collision_probability,
    default_m,
    default_u,
    em,
    estimate_u,
    frequencies,
)


@dataclass(frozen=True)
class Evidence:
    """One field's contribution, for the officer: both values, the level and its weight."""

    field: str
    query_value: str
    record_value: str
    level: str
    weight: float


@dataclass(frozen=True)
class Candidate:
    record_id: str
    score: float  # log2 odds of a match
    probability: float
    decision: Decision
    levels: tuple[int, ...]
    swapped_names: bool
    evidence: tuple[Evidence, ...] = ()


Compared = tuple[int, tuple[int, ...], bool]  # store position, levels, names swapped


_FORKED: tuple[MatchEngine, list[Features]] | None = None


def _compare_slice(bounds: tuple[int, int]) -> list[list[Compared]]:
    assert _FORKED is not None
    engine, prepared = _FORKED
    return [engine.compare_blocked(q) for q in prepared[bounds[0] : bounds[1]]]


def cpus() -> int:
    """The cores this process may use (at most 4: past that, forking costs more)."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:
        return 1


def _probability(bits: float) -> float:
    if bits > 60:
        return 1.0
    if bits < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -bits))


class MatchEngine:
    """Candidates for queries among a fixed set of store records (held in memory)."""

    def __init__(
        self,
        store: Sequence[PersonRecord],
        *,
        thresholds: Thresholds,
        as_of: date | None = None,
        model: Model | None = None,
        term_frequencies: bool = True,
        family_guard: bool | None = None,
    ) -> None:
        self.as_of = as_of or date.today()
        self.thresholds = thresholds
        self.features: list[Features] = [prepare(r, self.as_of) for r in store]
        self.index = BlockingIndex()
        for pos, f in enumerate(self.features):
            self.index.add(pos, store_keys(f))
        self.model = model or Model(m=default_m(), u=default_u(), prior=0.05)
        if term_frequencies:
            self.model.forename_freq = frequencies(f.fn for f in self.features)
            self.model.surname_freq = frequencies(f.sn for f in self.features)
            self.model.forename_group_freq = frequencies(
                canonical_variant(f.fn) for f in self.features
            )
        self.model.freq_floor = 1.0 / max(len(self.features), 1)
        # Twins and siblings are the hard negatives only where the store holds families.
        self.family_guard = (
            holds_families([(f.sn, f.postcode) for f in self.features])
            if family_guard is None
            else family_guard
        )

    # Training -------------------------------------------------------------------------

    def prepare_query(self, query: PersonRecord) -> Features:
        return prepare(query, self.as_of)

    def block(self, q: Features) -> set[int]:
        return self.index.lookup(query_keys(q))

    def compare_blocked(self, q: Features) -> list[Compared]:
        """Every blocked store record compared with the query."""
        feats = self.features
        out = []
        for pos in self.block(q):
            levels, swapped = compare(q, feats[pos])
            out.append((pos, levels, swapped))
        return out

    def fit(self, queries: Sequence[PersonRecord], *, sample: int = 10_000, seed: int = 7) -> Model:
        """Estimate u from random pairs and m and the prior by EM over the blocked pairs."""
        prepared = [self.prepare_query(q) for q in queries]
        self.fit_compared(prepared, [self.compare_blocked(q) for q in prepared], sample, seed)
        return self.model

    def fit_compared(
        self,
        prepared: Sequence[Features],
        compared: Sequence[list[Compared]],
        sample: int = 10_000,
        seed: int = 7,
        random_levels: list[tuple[int, ...]] | None = None,
    ) -> None:
        patterns: Counter[tuple[int, ...]] = Counter()
        for pairs in compared:
            for _, levels, _ in pairs:
                patterns[levels] += 1
        self.fit_patterns(prepared, patterns, sample, seed, random_levels)

    def fit_patterns(
        self,
        prepared: Sequence[Features],
        patterns: Counter[tuple[int, ...]],
        sample: int = 10_000,
        seed: int = 7,
        random_levels: list[tuple[int, ...]] | None = None,
    ) -> None:
        """fit_compared from how often each pattern of levels was seen among the blocked
        pairs (in the order the pairs first showed each)."""
        if not prepared or not self.features:
            return
        if random_levels is None:
            random_levels = self.random_levels(prepared, sample, seed)
        exact_u = {
            F_FORENAME: collision_probability(
                frequencies(q.fn for q in prepared), self.model.forename_freq
            ),
            F_SURNAME: collision_probability(
                frequencies(q.sn for q in prepared), self.model.surname_freq
            ),
            F_DOB: collision_probability(
                frequencies(q.dob_digits for q in prepared),
                self.store_dob_frequencies(),
            ),
        }
        u = estimate_u(random_levels, {k: max(v, 1e-7) for k, v in exact_u.items()})
        self.model.m, self.model.u, self.model.prior = estimate_m(patterns, u)
        self.model.reset()

    def store_dob_frequencies(self) -> dict[str, float]:
        return frequencies(s.dob_digits for s in self.features)

    def random_levels(
        self, prepared: Sequence[Features], sample: int = 10_000, seed: int = 7
    ) -> list[tuple[int, ...]]:
        """Levels of random query-store pairs: almost all non-matches, so they give u."""
        rng = random.Random(seed)
        n = len(self.features)
        return [
            compare(rng.choice(prepared), self.features[rng.randrange(n)])[0]
            for _ in range(min(sample, len(prepared) * n))
        ]

    def match_all(
        self,
        queries: Sequence[PersonRecord],
        *,
        limit: int = 5,
        explain: bool = False,
        workers: int | None = None,
    ) -> list[list[Candidate]]:
        """Fit on the queries themselves (no labels), then rank candidates for each.

        Comparing is shared among forked workers (which see the index without copying it);
        meanwhile this process draws the random pairs that estimate u."""
        global _FORKED
        prepared = [self.prepare_query(q) for q in queries]
        workers = workers if workers is not None else cpus()
        random_levels = None
        if workers > 1 and len(prepared) >= 400 and "fork" in mp.get_all_start_methods():
            _FORKED = (self, prepared)
            step = -(-len(prepared) // workers)
            slices = [(i, min(i + step, len(prepared))) for i in range(0, len(prepared), step)]
            try:
                with mp.get_context("fork").Pool(len(slices)) as pool:
                    pending = pool.map_async(_compare_slice, slices)
                    random_levels = self.random_levels(prepared)
                    compared = [c for part in pending.get() for c in part]
            finally:
                _FORKED = None
        else:
            compared = [self.compare_blocked(q) for q in prepared]
        self.fit_compared(prepared, compared, random_levels=random_levels)
        return [
            self.rank(q, c, limit=limit, explain=explain)
            for q, c in zip(prepared, compared, strict=True)
        ]

    # Scoring --------------------------------------------------------------------------

    def score_levels(self, s: Features, levels: tuple[int, ...]) -> float:
        return self.model.pattern_bits(levels) + self.name_adjustment(s, levels)

    def name_adjustment(self, s: Features, levels: tuple[int, ...]) -> float:
        """Term-frequency bits for the names: a shared rare name says more than a common one."""
        bits = 0.0
        if levels[F_FORENAME] == 0:
            bits += self.model.tf_adjustment(F_FORENAME, s.fn)
        elif levels[F_FORENAME] == 1:
            bits += self.model.variant_adjustment(s.fn)
        if levels[F_SURNAME] == 0:
            bits += self.model.tf_adjustment(F_SURNAME, s.sn)
        return bits

    def candidates(
        self,
        query: PersonRecord,
        *,
        limit: int = 5,
        explain: bool = True,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Candidate]:
        """The best `limit` store records for a query, best first, each with its evidence."""
        q = self.prepare_query(query)
        return self.rank(q, self.compare_blocked(q), limit=limit, explain=explain, exclude=exclude)

    def rank(
        self,
        q: Features,
        compared: list[Compared],
        *,
        limit: int = 5,
        explain: bool = True,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Candidate]:
        return [
            c for _, c in self.ranked(q, compared, limit=limit, explain=explain, exclude=exclude)
        ]

    def ranked(
        self,
        q: Features,
        compared: list[Compared],
        *,
        limit: int = 5,
        explain: bool = True,
        exclude: frozenset[str] = frozenset(),
    ) -> list[tuple[float, Candidate]]:
        """rank's candidates, each with its unrounded score (what they are ordered by)."""
        feats = self.features
        scored = []
        for pos, levels, swapped in compared:
            s = feats[pos]
            rid = s.record.record_id
            if not exclude or rid not in exclude:
                scored.append((self.score_levels(s, levels), rid, pos, levels, swapped))
        scored.sort(key=lambda x: (-x[0], x[1]))
        out = []
        for bits, rid, pos, levels, swapped in scored[:limit]:
            p = _probability(bits)
            out.append(
                (
                    bits,
                    Candidate(
                        record_id=rid,
                        score=round(bits, 3),
                        probability=p,
                        decision=decide(p, levels, self.thresholds, family_guard=self.family_guard),
                        levels=levels,
                        swapped_names=swapped,
                        evidence=self.explain_at(q, pos, levels) if explain else (),
                    ),
                )
            )
        return out

    def explain_at(self, q: Features, pos: int, levels: tuple[int, ...]) -> tuple[Evidence, ...]:
        """The evidence for the store record at a position."""
        return self.explain(q, self.features[pos], levels)

    def explain(self, q: Features, s: Features, levels: tuple[int, ...]) -> tuple[Evidence, ...]:
        w = self.model.weights()
        out = []
        for fi, lvl in enumerate(levels):
            weight = 0.0 if lvl == MISSING else w[fi][lvl]
            if fi == F_FORENAME and lvl == 0:
                weight += self.model.tf_adjustment(fi, s.fn)
            elif fi == F_FORENAME and lvl == 1:
                weight += self.model.variant_adjustment(s.fn)
            elif fi == F_SURNAME and lvl == 0:
                weight += self.model.tf_adjustment(fi, s.sn)
            out.append(
                Evidence(
                    field=FIELDS[fi].name,
                    query_value=field_values(q, fi),
                    record_value=field_values(s, fi),
                    level="missing" if lvl == MISSING else FIELDS[fi].levels[lvl],
                    weight=round(weight, 2),
                )
            )
        return tuple(out)


_NAME_FIELDS = frozenset({F_FORENAME, F_SURNAME, F_MIDDLE})
_DOB_FIELDS = frozenset({F_DOB, F_YG})


def estimate_m(
    patterns: Counter[tuple[int, ...]], u: list[list[float]]
) -> tuple[list[list[float]], list[list[float]], float]:
    """m by EM, in two passes so that no field is judged on pairs chosen for agreeing on it
    (Splink's approach): pairs agreeing on names teach the other fields, pairs agreeing on the
    date of birth teach the names. Then the prior over every blocked pair, with m and u fixed."""
    by_name: Counter[tuple[int, ...]] = Counter()
    by_dob: Counter[tuple[int, ...]] = Counter()
    for levels, count in patterns.items():
        if 0 <= levels[F_FORENAME] <= 3 and 0 <= levels[F_SURNAME] <= 4:
            by_name[levels] += count
        if levels[F_DOB] in (0, 1):
            by_dob[levels] += count
    start = default_m()
    m_a, _ = em(by_name, u, start, 0.3, ignore=_NAME_FIELDS)
    m_b, _ = em(by_dob, u, start, 0.3, ignore=_DOB_FIELDS)
    m = [m_b[fi] if fi in _NAME_FIELDS else m_a[fi] for fi in range(len(FIELDS))]
    pairs = sum(patterns.values())
    _, prior = em(patterns, u, m, min(0.3, 1000 / max(pairs, 1)), fixed_m=True)
    return m, u, prior

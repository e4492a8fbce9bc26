"""The engine end to end on an invented population: right child on top, evidence shown,
siblings and twins never proposed, thresholds respected."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from gateway.matching.decisions import Decision, Thresholds, decide, identity_conflict
from gateway.matching.engine import MatchEngine
from tests.fixtures.match_population import Population, build

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def pop() -> Population:
    return build()


@pytest.fixture(scope="module")
def engine(pop: Population) -> MatchEngine:
    eng = MatchEngine(pop.store, thresholds=Thresholds(0.95, 0.5), as_of=AS_OF)
    queries = [q for q, _ in pop.matched] + pop.siblings + pop.twins
    eng.fit(queries)
    return eng


def test_population_has_the_hard_negatives(pop: Population) -> None:
    assert len(pop.twins) >= 10 and len(pop.siblings) >= 10 and len(pop.matched) >= 100


def test_em_learns_that_agreement_is_evidence(engine: MatchEngine) -> None:
    w = engine.model.weights()
    for fi in (0, 1, 3):  # forename, surname, dob: exact agreement for, disagreement against
        assert w[fi][0] > 3 > 0 > w[fi][-1]
    assert 0 < engine.model.prior < 0.5
    assert engine.family_guard


def test_the_right_child_is_proposed(pop: Population, engine: MatchEngine) -> None:
    hits = 0
    for q, want in pop.matched:
        cands = engine.candidates(q)
        assert cands and cands[0].record_id == want
        hits += cands[0].decision is Decision.PROPOSED
    assert hits / len(pop.matched) >= 0.97


@pytest.mark.parametrize("kind", ["siblings", "twins"])
def test_siblings_and_twins_are_never_proposed(
    pop: Population, engine: MatchEngine, kind: str
) -> None:
    for q in getattr(pop, kind):
        for cand in engine.candidates(q):
            assert cand.decision is not Decision.PROPOSED, (kind, q.forename, cand.record_id)


def test_twin_shares_everything_but_the_forename(pop: Population, engine: MatchEngine) -> None:
    ids = {r.record_id for r in pop.store}
    q = next(t for t in pop.twins if t.record_id[1:] in ids)
    top = engine.candidates(q, limit=10)
    co_twin = [c for c in top if {e.field: e.level for e in c.evidence}["dob"] == "exact"]
    assert co_twin, "the co-twin should be a candidate (same DOB, surname, address)"
    ev = {e.field: e for e in co_twin[0].evidence}
    assert ev["forename"].level == "different" and identity_conflict(co_twin[0].levels)
    assert co_twin[0].decision is not Decision.PROPOSED


def test_evidence_names_both_values_level_and_weight(pop: Population, engine: MatchEngine) -> None:
    q, want = pop.matched[0]
    cand = engine.candidates(q)[0]
    assert cand.record_id == want
    fields = [e.field for e in cand.evidence]
    assert fields[:4] == ["forename", "surname", "middle_names", "dob"]
    fore = cand.evidence[0]
    assert fore.query_value == q.forename and fore.record_value and fore.level == "exact"
    assert fore.weight > 0
    assert sum(e.weight for e in cand.evidence) == pytest.approx(
        cand.score - engine.model.prior_bits, abs=0.1
    )


def test_swapped_names_and_typos_still_rank_first(pop: Population, engine: MatchEngine) -> None:
    q, want = pop.matched[1]
    swapped = replace(q, forename=q.surname, surname=q.forename)
    top = engine.candidates(swapped)[0]
    assert top.record_id == want and top.swapped_names
    typo = replace(q, forename=q.forename[0] + q.forename[2] + q.forename[1] + q.forename[3:])
    assert engine.candidates(typo)[0].record_id == want


def test_excluded_pairs_are_not_proposed_again(pop: Population, engine: MatchEngine) -> None:
    q, want = pop.matched[2]
    assert all(c.record_id != want for c in engine.candidates(q, exclude=frozenset({want})))


def test_thresholds() -> None:
    levels = (0, 0, -1, 0, 0, -1, -1, -1, -1, -1)
    t = Thresholds(0.9, 0.4)
    assert decide(0.95, levels, t) is Decision.PROPOSED
    assert decide(0.6, levels, t) is Decision.REVIEW
    assert decide(0.1, levels, t) is Decision.NONE
    twin_like = (6, 0, -1, 0, 0, -1, 0, 0, 0, -1)
    assert decide(0.999, twin_like, t) is Decision.REVIEW
    assert decide(0.999, twin_like, t, family_guard=False) is Decision.PROPOSED
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(0.3, 0.6)


@pytest.mark.parametrize(
    ("forename", "surname", "dob", "conflict"),
    [
        (6, 0, 0, True),  # twin: a different forename, all else the same
        (0, 0, 6, True),  # namesake or sibling: the date is not a slip
        (2, 8, 0, True),  # part-forename match with an unrelated surname
        (0, 8, 4, True),  # changed surname but only the birth year known
        (0, 8, 0, False),  # changed surname, same forename and date: may be proposed
        (4, 0, 2, True),  # similar forename, DOB one digit off: a sibling's pattern
        (3, 0, 2, False),  # a typo in the forename and a DOB slip: still the child
    ],
)
def test_identity_conflicts(forename: int, surname: int, dob: int, conflict: bool) -> None:
    levels = (forename, surname, -1, dob, 0, -1, -1, -1, -1, -1)
    assert identity_conflict(levels) is conflict
    with_upn = (forename, surname, -1, dob, 0, 0, -1, -1, -1, -1)
    assert identity_conflict(with_upn) is False  # a valid UPN match overrides


def test_changed_surname_needs_the_parent_link_when_parents_are_named() -> None:
    base = [0, 8, -1, 0, 0, -1, -1, -1, -1, -1]
    assert not identity_conflict(tuple(base))  # no parents named on one side
    base[7] = 1  # mother's forename agrees (her surname changed too)
    assert not identity_conflict(tuple(base))
    base[7] = 2  # parents named on both sides and none agrees
    assert identity_conflict(tuple(base))


def test_a_common_spelling_group_weighs_less_than_a_rare_one() -> None:
    from gateway.matching.normalise import canonical_variant
    from gateway.matching.weights import Model, default_m, default_u

    m = Model(m=default_m(), u=default_u(), freq_floor=1e-5)
    muhammad = canonical_variant("mohammed")
    m.forename_group_freq = {muhammad: 0.05, canonical_variant("yusuf"): 0.0002}
    assert m.variant_adjustment("mohamed") < m.variant_adjustment("yousef") <= 0.0

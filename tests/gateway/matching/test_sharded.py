"""The store shared among forked workers gives what one engine over the whole store gives."""

from __future__ import annotations

import multiprocessing as mp
from datetime import date

import pytest

from gateway.matching import sharded
from gateway.matching.decisions import Thresholds
from gateway.matching.engine import MatchEngine
from tests.fixtures.match_population import build

AS_OF = date(2026, 11, 1)
T = Thresholds(0.95, 0.5)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_sharded_batch_ranks_as_one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    pop = build()
    queries = [q for q, _ in pop.matched] + pop.siblings + pop.twins
    whole = MatchEngine(pop.store, thresholds=T, as_of=AS_OF).match_all(queries, workers=1)
    monkeypatch.setattr(sharded, "MIN_SHARDED", 0)
    parts = sharded.match_batch(pop.store, queries, thresholds=T, as_of=AS_OF, workers=3)
    assert len(parts) == len(whole)
    for a, b in zip(parts, whole, strict=True):
        # Same records, levels and decisions; scores equal but for the order of float sums.
        assert [(c.record_id, c.levels, c.decision) for c in a] == [
            (c.record_id, c.levels, c.decision) for c in b
        ]
        assert [c.score for c in a] == pytest.approx([c.score for c in b], abs=0.01)


def test_explained_candidates_carry_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    pop = build()
    queries = [q for q, _ in pop.matched][:40]
    monkeypatch.setattr(sharded, "MIN_SHARDED", 0)
    ranked = sharded.match_batch(
        pop.store, queries, thresholds=T, as_of=AS_OF, explain=True, workers=2
    )
    top = ranked[0][0]
    assert top.record_id == pop.matched[0][1]
    assert {e.field for e in top.evidence} >= {"forename", "surname", "dob"}


def test_small_store_or_one_core_is_one_engine() -> None:
    pop = build(families=40)
    queries = [q for q, _ in pop.matched]
    one = sharded.match_batch(pop.store, queries, thresholds=T, as_of=AS_OF, workers=1)
    assert [c[0].record_id for c in one if c] == [
        c[0].record_id
        for c in MatchEngine(pop.store, thresholds=T, as_of=AS_OF).match_all(queries, workers=1)
        if c
    ]


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_worker_failing_fails_the_batch_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pop = build(families=40)
    queries = [q for q, _ in pop.matched]

    def broken(*_: object) -> None:
        raise ValueError("comparison broke")

    monkeypatch.setattr(sharded, "MIN_SHARDED", 0)
    monkeypatch.setattr(sharded, "compare", broken)
    with pytest.raises(ValueError, match="comparison broke"):
        sharded.match_batch(pop.store, queries, thresholds=T, as_of=AS_OF, workers=2)


def test_dropping_the_caches_changes_no_result() -> None:
    from gateway.matching import normalise

    pop = build(families=40)
    queries = [q for q, _ in pop.matched]
    before = sharded.match_batch(pop.store, queries, thresholds=T, as_of=AS_OF, workers=1)
    sharded.drop_caches()
    assert normalise.fold.cache_info().currsize == 0
    assert normalise.nickname_groups.cache_info().currsize == 1  # the tables stay loaded
    after = sharded.match_batch(pop.store, queries, thresholds=T, as_of=AS_OF, workers=1)
    assert [[(c.record_id, c.score) for c in cs] for cs in after] == [
        [(c.record_id, c.score) for c in cs] for cs in before
    ]

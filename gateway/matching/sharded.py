"""A batch of queries against a large store, the store shared among forked workers: each
prepares, indexes and compares its own part, so that preparing the store uses every core."""

from __future__ import annotations

import gc
import multiprocessing as mp
import pickle
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import cast

from gateway.matching.blocking import BlockingIndex, query_keys, store_keys
from gateway.matching.compare import F_FORENAME, F_SURNAME, compare
from gateway.matching.decisions import Thresholds, holds_families_counted
from gateway.matching.engine import Candidate, Compared, Evidence, MatchEngine, cpus
from gateway.matching.features import Features, prepare
from gateway.matching.normalise import canonical_variant, joined
from gateway.matching.records import PersonRecord
from gateway.matching.weights import Model, default_m, default_u

# Below this many store records one process does it all: forking costs more than it saves.
MIN_SHARDED = 5_000


@dataclass(frozen=True)
class _Shard:
    """What one worker sends back first: each pattern of levels among its pairs, with where
    it first showed (query, pair) and how many pairs showed it; the draws for u it holds;
    and the counts the model is fitted on. Its compared pairs stay with it, for ranking."""

    patterns: dict[tuple[int, ...], tuple[int, int, int]]  # levels -> (query, pair, count)
    drawn: list[tuple[int, tuple[int, ...]]]  # (draw number, levels) of the draws for u here
    forenames: Counter[str]
    surnames: Counter[str]
    forename_groups: Counter[str]
    dob_digits: Counter[str]
    families: Counter[tuple[str, str]]


_WORK: (
    tuple[
        Sequence[PersonRecord],
        list[Features],
        list[set[str]],
        frozenset[int],
        date,
        int,
        list[tuple[int, int]],
    ]
    | None
)
_WORK = None


def _shard(bounds: tuple[int, int]) -> tuple[_Shard, list[Features], list[list[Compared]]]:
    """Prepare, index and compare one part of the store; the pairs' positions are the
    part's own (0 for its first record)."""
    assert _WORK is not None
    store, prepared, keys, wanted, as_of, cap, draws = _WORK
    lo, hi = bounds
    feats = [prepare(store[i], as_of) for i in range(lo, hi)]
    index = BlockingIndex(cap)
    # Only the keys some query looks up are filed: their buckets are whole, so each lookup
    # gives what an index of every key would give.
    add = index.add_wanted
    for i, f in enumerate(feats):
        add(i, store_keys(f), wanted)
    compared = []
    seen: dict[tuple[int, ...], list[int]] = {}
    for qi, (qf, qk) in enumerate(zip(prepared, keys, strict=True)):
        pairs: list[Compared] = []
        for pos in index.lookup(qk):
            levels, swapped = compare(qf, feats[pos])
            at = seen.get(levels)
            if at is None:
                seen[levels] = [qi, len(pairs), 1]
            else:
                at[2] += 1
            pairs.append((pos, levels, swapped))
        compared.append(pairs)
    drawn = [
        (i, compare(prepared[qi], feats[pos - lo])[0])
        for i, (qi, pos) in enumerate(draws)
        if lo <= pos < hi
    ]
    shard = _Shard(
        {levels: (q, j, n) for levels, (q, j, n) in seen.items()},
        drawn,
        Counter(f.fn for f in feats if f.fn),
        Counter(f.sn for f in feats if f.sn),
        Counter(g for g in (canonical_variant(f.fn) for f in feats) if g),
        Counter(f.dob_digits for f in feats if f.dob_digits),
        Counter((f.sn, f.postcode) for f in feats if f.sn and f.postcode),
    )
    return shard, feats, compared


class _ShardScorer(MatchEngine):
    """MatchEngine's ranking over one worker's part of the store, with the model the
    parent fitted over every part."""

    def __init__(
        self, feats: list[Features], model: Model, thresholds: Thresholds, family_guard: bool
    ) -> None:
        self.features = feats
        self.model = model
        self.thresholds = thresholds
        self.family_guard = family_guard
        # The model is fixed here: each name's bits worked out once.
        self._exact: tuple[dict[str, float], dict[str, float]] = ({}, {})
        self._variant: dict[str, float] = {}

    def name_adjustment(self, s: Features, levels: tuple[int, ...]) -> float:
        bits = 0.0
        fl = levels[F_FORENAME]
        if fl == 0:
            got = self._exact[0].get(s.fn)
            if got is None:
                got = self._exact[0][s.fn] = self.model.tf_adjustment(F_FORENAME, s.fn)
            bits += got
        elif fl == 1:
            got = self._variant.get(s.fn)
            if got is None:
                got = self._variant[s.fn] = self.model.variant_adjustment(s.fn)
            bits += got
        if levels[F_SURNAME] == 0:
            got = self._exact[1].get(s.sn)
            if got is None:
                got = self._exact[1][s.sn] = self.model.tf_adjustment(F_SURNAME, s.sn)
            bits += got
        return bits


Ranked = list[list[tuple[float, Candidate]]]


def _serve(bounds: tuple[int, int], conn: Connection) -> None:
    """One worker: compare its part and send the counts; given the fitted model, rank
    its part's candidates for every query and send them."""
    try:
        assert _WORK is not None
        prepared = _WORK[1]
        shard, feats, compared = _shard(bounds)
        conn.send(shard)
        got = conn.recv()
        model, thresholds, family_guard, limit, explain = got
        scorer = _ShardScorer(feats, model, thresholds, family_guard)
        ranked: Ranked = [
            scorer.ranked(q, c, limit=limit, explain=explain)
            for q, c in zip(prepared, compared, strict=True)
        ]
        conn.send(ranked)
    except (EOFError, BrokenPipeError):
        pass  # the parent gave up on the batch
    except Exception as exc:  # handed to the parent, which raises it
        try:
            try:
                conn.send(_Failed(exc))
            except (pickle.PicklingError, TypeError, AttributeError):
                conn.send(_Failed(RuntimeError(f"matching worker failed: {exc!r}")))
        except OSError:
            pass  # the parent is gone
    finally:
        conn.close()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def _received(conn: Connection) -> object:
    got = conn.recv()
    if isinstance(got, _Failed):
        raise got.error
    return got


@dataclass(slots=True)
class _Names:
    """What ranking reads of a store record: its id and its names as compared."""

    record: PersonRecord
    fn: str
    sn: str


class _NameView(Sequence[_Names]):
    def __init__(self, store: Sequence[PersonRecord]) -> None:
        self._store = store

    def __len__(self) -> int:
        return len(self._store)

    def __getitem__(self, pos: int) -> _Names:  # type: ignore[override]
        r = self._store[pos]
        return _Names(r, joined(r.forename), joined(r.surname))


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch is loaded and matched (and in the
    workers forked meanwhile). Records, features, keys and compared pairs hold no reference
    cycles, so its passes find nothing; over a large store they were a third of the CPU
    time, as each pass walks every object made so far."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def drop_caches() -> None:
    """Empty the bounded caches of names, addresses, dates and comparisons that a batch
    filled (a few hundred thousand entries after a large store): only speed depends on them.
    A process ending with them full spent half a second freeing them. The name-equivalence
    tables (unbounded caches, loaded once) stay."""
    from gateway.matching import blocking, compare, features, normalise

    for module in (blocking, compare, features, normalise):
        for value in list(vars(module).values()):
            params = getattr(value, "cache_parameters", None)
            if params is not None and params()["maxsize"] is not None:
                value.cache_clear()


def _freq(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values()) or 1
    return {k: c / total for k, c in counts.items()}


class ShardedEngine(MatchEngine):
    """MatchEngine's fitting, scoring and ranking over pairs compared by the workers; the
    parent prepares only the store records it draws for u and those it explains."""

    def __init__(
        self,
        store: Sequence[PersonRecord],
        shards: Sequence[_Shard],
        *,
        thresholds: Thresholds,
        as_of: date,
    ) -> None:
        self.as_of = as_of
        self.thresholds = thresholds
        self._store = store
        self.features = _NameView(store)  # type: ignore[assignment]
        self.model = Model(m=default_m(), u=default_u(), prior=0.05)

        def merged(name: str) -> Counter[str]:
            total: Counter[str] = Counter()
            for s in shards:
                total.update(getattr(s, name))
            return total

        self.model.forename_freq = _freq(merged("forenames"))
        self.model.surname_freq = _freq(merged("surnames"))
        self.model.forename_group_freq = _freq(merged("forename_groups"))
        self._dob_freq = _freq(merged("dob_digits"))
        self.model.freq_floor = 1.0 / max(len(store), 1)
        families: Counter[tuple[str, str]] = Counter()
        for s in shards:
            families.update(s.families)
        self.family_guard = holds_families_counted(families)

    def store_dob_frequencies(self) -> dict[str, float]:
        return self._dob_freq

    def store_features(self, pos: int) -> Features:
        return prepare(self._store[pos], self.as_of)

    def explain_at(self, q: Features, pos: int, levels: tuple[int, ...]) -> tuple[Evidence, ...]:
        return self.explain(q, self.store_features(pos), levels)


def match_batch(
    store: Sequence[PersonRecord],
    queries: Sequence[PersonRecord],
    *,
    thresholds: Thresholds,
    as_of: date | None = None,
    limit: int = 5,
    explain: bool = False,
    workers: int | None = None,
) -> list[list[Candidate]]:
    """What MatchEngine(store).match_all(queries) gives, the store split among workers.

    Each worker's blocking keeps at most the index's cap of records per query from its own
    part (chosen by how many records of that part share each key), so a query whose keys
    are shared by very many records is compared with up to the cap from each part, more
    than one index over the whole store would allow."""
    with gc_paused():
        return _match_batch(
            store,
            queries,
            thresholds=thresholds,
            as_of=as_of or date.today(),
            limit=limit,
            explain=explain,
            workers=workers if workers is not None else cpus(),
        )


def _match_batch(
    store: Sequence[PersonRecord],
    queries: Sequence[PersonRecord],
    *,
    thresholds: Thresholds,
    as_of: date,
    limit: int,
    explain: bool,
    workers: int,
) -> list[list[Candidate]]:
    global _WORK
    if workers < 2 or len(store) < MIN_SHARDED or "fork" not in mp.get_all_start_methods():
        engine = MatchEngine(store, thresholds=thresholds, as_of=as_of)
        return engine.match_all(queries, limit=limit, explain=explain, workers=workers)
    step = -(-len(store) // workers)
    bounds = [(i, min(i + step, len(store))) for i in range(0, len(store), step)]
    draws = _draws(len(queries), len(store))
    # Prepared once here, before the fork: every worker reads them.
    prepared = [prepare(q, as_of) for q in queries]
    keys = [query_keys(q) for q in prepared]
    wanted = frozenset(hash(k) for ks in keys for k in ks)
    _WORK = (store, prepared, keys, wanted, as_of, BlockingIndex().cap, draws)
    ctx = mp.get_context("fork")
    running: list[tuple[BaseProcess, Connection]] = []
    try:
        for part in bounds:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(part, theirs), daemon=True)
            proc.start()
            theirs.close()
            running.append((proc, mine))
        _WORK = None
        shards = [cast(_Shard, _received(conn)) for _, conn in running]
        levels_of = dict(d for s in shards for d in s.drawn)
        random_levels = [levels_of[i] for i in range(len(draws))]
        engine = ShardedEngine(store, shards, thresholds=thresholds, as_of=as_of)
        engine.fit_patterns(prepared, _patterns(shards), random_levels=random_levels)
        for _, conn in running:
            conn.send((engine.model, thresholds, engine.family_guard, limit, explain))
        parts = [cast(Ranked, _received(conn)) for _, conn in running]
    finally:
        _WORK = None
        for _, conn in running:
            conn.close()
        for worker, _ in running:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    out = []
    for i in range(len(prepared)):
        # Each part's best `limit`, best first; together, ordered as one ranking of every
        # pair would order them (ties in part order, as the pairs were listed).
        merged = [x for part in parts for x in part[i]]
        merged.sort(key=lambda x: (-x[0], x[1].record_id))
        out.append([c for _, c in merged[:limit]])
    return out


def _patterns(shards: Sequence[_Shard]) -> Counter[tuple[int, ...]]:
    """How many pairs showed each pattern of levels, in the order one list of every pair
    (query by query, part by part) would first show them: the EM sums in that order."""
    first: dict[tuple[int, ...], tuple[int, int, int]] = {}
    total: dict[tuple[int, ...], int] = {}
    for si, shard in enumerate(shards):
        for levels, (qi, j, n) in shard.patterns.items():
            at = (qi, si, j)
            if levels not in first or at < first[levels]:
                first[levels] = at
            total[levels] = total.get(levels, 0) + n
    out: Counter[tuple[int, ...]] = Counter()
    for levels in sorted(first, key=first.__getitem__):
        out[levels] = total[levels]
    return out


def _draws(queries: int, store: int, sample: int = 10_000, seed: int = 7) -> list[tuple[int, int]]:
    """The (query, store record) pairs MatchEngine.random_levels draws for u: the same
    generator calls, so the same pairs; each is compared by the worker holding the record."""
    rng = random.Random(seed)
    # randrange(queries) draws as choice(range(queries)) does (one draw below the bound).
    n = min(sample, queries * store)
    return [(rng.randrange(queries), rng.randrange(store)) for _ in range(n)]

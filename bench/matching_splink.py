"""The peer for bench/matching: Splink 5 (DuckDB) on the same bench CSVs, run in its own
process so its wall time and peak memory are measured as ours are. Writes the same two
files as `cme match bench` (decisions at p >= 0.9, top 5 candidates per query).

Splink is not a dependency of the project: this runs under whatever Python has it
(BENCH_SPLINK_PYTHON, e.g. a separate virtualenv with `pip install splink==5.0.0`).
Configured as the data set's README describes its reference run: Fellegi-Sunter, u by
random sampling, m by EM, term frequencies on names; no aliases, middle names, parents or
previous school.

    python -m bench.matching_splink STORE.csv QUERIES.csv PRED.csv CAND.csv
"""

from __future__ import annotations

import csv
import sys

THRESHOLD = 0.9
TOP = 5


def main(store: str, queries: str, pred: str, cand: str) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    cols = (
        "lower(coalesce(surname, '')) AS surname, lower(coalesce(forename, '')) AS forename,"
        " CAST(dob AS VARCHAR) AS dob, sex,"
        " upper(replace(coalesce(postcode, ''), ' ', '')) AS postcode,"
        " lower(town) AS town, lower(address) AS address"
    )
    for table, path, key in (("store", store, "store_id"), ("queries", queries, "query_id")):
        con.execute(
            f"CREATE TABLE {table} AS SELECT {key} AS uid, {cols}"
            f" FROM read_csv('{path}', all_varchar = true, header = true)"
        )
        # Empty strings are unknown, as in the bench format.
        for c in ("surname", "forename", "dob", "sex", "postcode", "town", "address"):
            con.execute(f"UPDATE {table} SET {c} = NULL WHERE {c} = ''")
        con.execute(
            f"ALTER TABLE {table} ADD COLUMN dob_full VARCHAR;"
            f" UPDATE {table} SET dob_full = CASE WHEN length(dob) = 10"
            f" AND dob NOT LIKE '--%' THEN dob END"
        )
    api = DuckDBAPI(con)
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="uid",
        comparisons=[
            cl.NameComparison("forename").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob_full", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.LevenshteinAtThresholds("address", [2, 5]),
            cl.ExactMatch("town"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("forename", "surname"),
            block_on("dob_full"),
            block_on("surname", "substr(dob_full, 1, 4)"),
            block_on("forename", "substr(dob_full, 1, 4)"),
            block_on("postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(
        [
            api.register("store", dataset_display_name="s"),
            api.register("queries", dataset_display_name="q"),
        ],
        settings,
        log_level="WARNING",
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "dob_full")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=1e6, seed=7, min_count_per_level=None
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob_full"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("forename", "surname")
    )
    scored = linker.inference.predict(threshold_match_probability=0.001)
    rows = con.execute(
        f"SELECT uid_l, uid_r, match_probability, source_dataset_l FROM {scored.physical_name}"
    ).fetchall()
    by_query: dict[str, list[tuple[float, str]]] = {}
    for uid_l, uid_r, p, src_l in rows:
        q, s = (uid_r, uid_l) if src_l == "s" else (uid_l, uid_r)
        by_query.setdefault(q, []).append((p, s))
    with (
        open(pred, "w", newline="", encoding="utf-8") as pf,
        open(cand, "w", newline="", encoding="utf-8") as cf,
    ):
        pw, cw = csv.writer(pf), csv.writer(cf)
        pw.writerow(["query_id", "store_id", "score"])
        cw.writerow(["query_id", "store_id", "rank"])
        for q, cands in sorted(by_query.items()):
            cands.sort(key=lambda x: (-x[0], x[1]))
            if cands[0][0] >= THRESHOLD:
                pw.writerow([q, cands[0][1], f"{cands[0][0]:.6f}"])
            for rank, (_, s) in enumerate(cands[:TOP], start=1):
                cw.writerow([q, s, rank])


if __name__ == "__main__":
    main(*sys.argv[1:5])

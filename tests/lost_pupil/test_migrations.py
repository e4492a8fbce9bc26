"""Migration 0019: the blocking keys survive the SQLite table's rebuild without a rowid,
and back; on PostgreSQL it changes nothing."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from gateway.db import alembic_config

_KEYS = [("S", "SM0:A", 1), ("U", "R807300024001", 1), ("F", "AM:S", 2), ("S", "SM0:A", 2)]


def _table_sql(engine: Engine) -> str:
    query = text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lp_pupil_keys'")
    with engine.connect() as conn:
        return str(conn.execute(query).scalar_one())


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lp_files (id, sha256, size, uploader, uploaded_at, source_laestab, "
                "dest_code, dest_kind, ctf_version, pupil_count, expires_at, legal_hold) VALUES "
                "(1, :sha, 1, 't', :at, '8073000', 'XXXXXXX', 'lost', '25.0', 2, :at, false)"
            ),
            {"sha": "0" * 64, "at": "2026-01-01 00:00:00"},
        )
        for pid in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO lp_pupils (id, file_id, position, upn_valid, surname_norm, "
                    "forename_norm, other_names, former_upns, source_laestab, dest_kind, "
                    "status, problems) VALUES (:id, 1, :id, false, '', '', '[]', '[]', "
                    "'8073000', 'lost', 'open', '[]')"
                ),
                {"id": pid},
            )
        conn.execute(
            text("INSERT INTO lp_pupil_keys (kind, key, pupil_id) VALUES (:k, :v, :p)"),
            [{"k": k, "v": v, "p": p} for k, v, p in _KEYS],
        )


def _keys(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, key, pupil_id FROM lp_pupil_keys")).all()
    return sorted((str(k), str(v), int(p)) for k, v, p in rows)


def test_the_keys_survive_the_rebuild_down_and_up(engine: Engine) -> None:
    cfg = alembic_config(engine)
    command.downgrade(cfg, "lp_keys_without_rowid@-1")
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        assert "WITHOUT ROWID" not in _table_sql(engine)
    _seed(engine)
    command.upgrade(cfg, "heads")
    assert _keys(engine) == sorted(_KEYS)
    if sqlite:
        assert "WITHOUT ROWID" in _table_sql(engine)
    with engine.begin() as conn:  # the cascade from a pupil still reaches its keys
        conn.execute(text("DELETE FROM lp_pupils WHERE id = 2"))
    assert _keys(engine) == sorted(k for k in _KEYS if k[2] == 1)
    command.downgrade(cfg, "lp_keys_without_rowid@-1")
    assert _keys(engine) == sorted(k for k in _KEYS if k[2] == 1)
    if sqlite:
        assert "WITHOUT ROWID" not in _table_sql(engine)

"""The embedded PostgreSQL: started on demand with logical WAL, reused by later callers, stopped cleanly."""

import psycopg

from resources import embedded


def test_embedded_server_lifecycle(tmp_path):
    data_dir = tmp_path / "pg"
    url = embedded.ensure_running(str(data_dir))
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
    waybill_db = embedded.database_url(str(data_dir), "waybill")
    assert embedded.database_url(str(data_dir), "waybill") == waybill_db  # second call reuses it
    with psycopg.connect(waybill_db) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "waybill"

    assert embedded.stop(data_dir)
    assert not embedded.is_running(data_dir)
    assert not embedded.stop(data_dir)

    # Started again on demand, with its data and settings kept.
    url = embedded.ensure_running(str(data_dir))
    with psycopg.connect(embedded.database_url(str(data_dir), "waybill")) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
    embedded.stop(data_dir)

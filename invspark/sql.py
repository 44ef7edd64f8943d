"""Query the warehouse's Delta tables with SQL, without Spark: DuckDB with its delta extension.

`connect(warehouse)` opens an in-memory DuckDB with one view per Delta table of the warehouse
(`SELECT * FROM inventory_policy`). DuckDB reads each table through its Delta log, so logically
removed files are never read. The extension is loaded from the `duckdb-extension-delta` package
(DuckDB 1.5.5), which works offline; DuckDB 2.x downloads its extension at run time instead.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from invspark.errors import InvsparkError


def delta_extension_path() -> str:
    try:
        import duckdb
    except ImportError:
        raise InvsparkError("SQL queries need DuckDB: pip install 'duckdb==1.5.5' 'duckdb-extension-delta==1.5.5'") from None
    site = os.path.dirname(os.path.dirname(duckdb.__file__))
    found = glob.glob(os.path.join(site, "duckdb_extension_delta", "**", "delta.duckdb_extension"), recursive=True)
    if not found:
        raise InvsparkError("DuckDB's delta extension is missing: pip install 'duckdb-extension-delta==1.5.5'")
    return found[0]


def delta_tables(warehouse: str | os.PathLike[str]) -> dict[str, str]:
    """Table name -> path of every Delta table directly under `warehouse`."""
    root = Path(warehouse)
    return {p.parent.name: str(p.parent) for p in sorted(root.glob("*/_delta_log"))}


def connect(warehouse: str | os.PathLike[str], include_stage_tables: bool = False):
    """An in-memory DuckDB connection with a view per output table of `warehouse`."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"LOAD '{delta_extension_path()}'")
    for name, path in delta_tables(warehouse).items():
        if name.startswith("stage_") and not include_stage_tables:
            continue
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM delta_scan('{path}')")
    return connection

"""Reads a local copy of the lake with DuckDB and pyarrow, independently of
the Go writer, and prints what the integration test compares as JSON.

usage: readback.py ROOT QUERY_JSON
QUERY_JSON: {"tables": {"<table>": {"id_column": "event_id", "ids": [...], "columns": [...]}}}
"""
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq

root, query = sys.argv[1], json.loads(sys.argv[2])
out = {}
con = duckdb.connect()
for table, q in query["tables"].items():
    files = []
    for d, _, names in os.walk(os.path.join(root, table)):
        files += [os.path.join(d, n) for n in names if n.endswith(".parquet")]
    files.sort()
    glob = os.path.join(root, table, "**", "*.parquet")
    rel = f"read_parquet('{glob}', hive_partitioning=true)"
    res = {"files": len(files)}
    res["duckdb_count"] = con.execute(f"select count(*) from {rel}").fetchone()[0]
    res["duckdb_distinct_ids"] = con.execute(f"select count(distinct {q['id_column']}) from {rel}").fetchone()[0]
    res["partitions"] = [[str(v) for v in r] for r in con.execute(f"select distinct dt, hr from {rel} order by 1, 2").fetchall()]
    cols = ", ".join(q["columns"])
    ids = ", ".join("'%s'" % i for i in q["ids"])
    rows = con.execute(
        f"select {q['id_column']}, {cols} from {rel} where {q['id_column']} in ({ids})"
    ).fetchall()
    res["duckdb_rows"] = {
        r[0]: [v if v is None or isinstance(v, (int, float, str, bool, list)) else str(v) for v in r[1:]] for r in rows
    }
    # pyarrow: row count, the timestamp column's footer annotation, and the same sample.
    pa_rows = 0
    sample = {}
    ts_types = set()
    for f in files:
        pf = pq.ParquetFile(f)
        pa_rows += pf.metadata.num_rows
        for i in range(pf.metadata.num_columns):
            col = pf.schema.column(i)
            if col.physical_type == "INT64" and "Timestamp" in str(col.logical_type):
                ts_types.add(f"{col.name}: {col.physical_type} {col.logical_type}")
            if col.physical_type == "INT96":
                ts_types.add(f"{col.name}: INT96")
        names = [c[len("epoch_ms("):-1] if c.startswith("epoch_ms(") else c for c in q["columns"]]
        t = pf.read(columns=[q["id_column"]] + names).to_pylist()
        for r in t:
            if r[q["id_column"]] in q["ids"]:
                vals = []
                for c, n in zip(q["columns"], names):
                    v = r[n]
                    if c.startswith("epoch_ms(") and v is not None:
                        v = int(v.timestamp() * 1000)
                    vals.append(v if v is None or isinstance(v, (int, float, str, bool, list)) else str(v))
                sample[r[q["id_column"]]] = vals
    res["pyarrow_count"] = pa_rows
    res["pyarrow_rows"] = sample
    res["timestamp_types"] = sorted(ts_types)
    out[table] = res
print(json.dumps(out))

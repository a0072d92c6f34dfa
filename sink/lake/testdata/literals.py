"""Reads every Parquet file under ROOT with DuckDB and with pyarrow (both
decode zstd with libzstd) and prints, per reader, the row count and the md5
of the sorted event_id and request_id values joined by ",".

usage: literals.py ROOT
"""
import hashlib
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq

root = sys.argv[1]
files = sorted(os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns if n.endswith(".parquet"))
con = duckdb.connect()
rel = "read_parquet([%s])" % ", ".join("'%s'" % f for f in files)
out = {"files": len(files), "duckdb": {}, "pyarrow": {}}
out["duckdb"]["rows"] = con.execute(f"select count(*) from {rel}").fetchone()[0]
for col in ("event_id", "request_id"):
    joined = con.execute(f"select string_agg({col}, ',' order by {col}) from {rel} where {col} is not null").fetchone()[0]
    out["duckdb"][col] = hashlib.sha256(joined.encode()).hexdigest()
tables = [pq.read_table(f, columns=["event_id", "request_id"]) for f in files]
out["pyarrow"]["rows"] = sum(t.num_rows for t in tables)
for col in ("event_id", "request_id"):
    vals = sorted(v for t in tables for v in t.column(col).to_pylist() if v is not None)
    out["pyarrow"][col] = hashlib.sha256(",".join(vals).encode()).hexdigest()
print(json.dumps(out))

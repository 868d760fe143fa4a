"""Retrieval benchmark: pgvector HNSW over knowledge chunks, with and without a brand filter.

    .venv/bin/python benches/retrieval.py                      # 100,000 and 1,000,000 chunks
    .venv/bin/python benches/retrieval.py --sizes 100000       # quick mode
    nice .venv/bin/python benches/retrieval.py --sizes 1000000 --ef 40,100,200

It uses its own embedded PostgreSQL (var/bench-retrieval/pgdata), never the app's or the tests'.
Data are synthetic and need no download: normalised 384-d vectors around random cluster centres (a
point = its centre + Gaussian noise, cosine to its centre ≈ 0.7, as with sentence embeddings of one
topic). The table and the index are the app's (agents_knowledgechunk): an untyped `vector` column with
`dimensions`, the partial HNSW index over `embedding::vector(384)` (m = 24, ef_construction = 128),
the (brand, dimensions) btree, and the query agents.knowledge sends — cast, `dimensions = 384`,
optionally `brand_id = …`, ORDER BY cosine distance LIMIT k × overfetch, the rows sorted exactly and the
best k kept, with iterative scans on (`hnsw.iterative_scan = relaxed_order`, `hnsw.max_scan_tuples` as
in settings).

For each size it reports the load (binary COPY) and index build time, then for each ef_search:
recall@k against exact search (ground truth computed in numpy while generating, over all rows and
over each brand's rows) and p50/p95 query latency (client round trip over the Unix socket, prepared
statement) for: no filter, a brand with 1 % of rows, a brand with 10 % of rows. A filtered query is
measured as the app runs it — a brand with at most --exact-below rows (AIOS_RETRIEVE_EXACT_BELOW) exactly
through its btree, a larger one as the planner chooses with iterative scans — and with the HNSW index
as the only path. The baseline, measured in the same run, is exact search (a sequential scan computing
every distance); ratios are baseline p50 / HNSW p50.
The last line is one JSON object with units in its keys.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DIM = 384
SEED = 20261121
BATCH = 50_000
BRANDS = {"1%": (1, 0.01), "10%": (2, 0.10)}  # label: (brand id, share of rows)
OTHER_BRANDS = 48  # the rest of the rows spread over these
MAX_SCAN_TUPLES = 50_000  # settings.AIOS_RETRIEVE_MAX_SCAN_TUPLES
TARGET_RECALL, TARGET_P95_MS = 0.95, 20.0


def log(message: str) -> None:
    print(message, flush=True)


# --- the server ---------------------------------------------------------------------------------

def start_server(datadir: Path, *, shared_buffers: str) -> tuple[object, str]:
    """Embedded PostgreSQL in its own folder; shared_buffers raised (restart once) so the index fits."""
    from aios import devstack

    server, _ = devstack.start_postgres(datadir, db_name="bench")
    uri = server.get_uri("bench")
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        current = conn.execute("SHOW shared_buffers").fetchone()[0]
        if current.lower() != shared_buffers.lower():
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
            conn.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = 2")
            conn.execute("ALTER SYSTEM SET max_parallel_workers_per_gather = 2")
            restart = True
        else:
            restart = False
    if restart:
        devstack.stop_postgres(server)
        server, _ = devstack.start_postgres(datadir, db_name="bench")
        uri = server.get_uri("bench")
    return server, uri


# --- data ------------------------------------------------------------------------------------------

def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class Generator:
    """Deterministic clustered vectors and their brands, in batches."""

    def __init__(self, size: int, *, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.clusters = max(50, size // 1000)
        self.centres = unit(self.rng.normal(size=(self.clusters, DIM)))
        self.sigma = 0.05

    def points(self, n: int) -> np.ndarray:
        picks = self.rng.integers(0, self.clusters, n)
        return unit(self.centres[picks] + self.rng.normal(scale=self.sigma, size=(n, DIM)))

    def brands(self, n: int) -> np.ndarray:
        u = self.rng.random(n)
        out = 3 + self.rng.integers(0, OTHER_BRANDS, n)
        edge = 0.0
        for brand, share in BRANDS.values():
            out[(u >= edge) & (u < edge + share)] = brand
            edge += share
        return out.astype(np.int32)


_ROW = np.dtype([
    ("fields", ">i2"),
    ("l_id", ">i4"), ("id", ">i8"),
    ("l_brand", ">i4"), ("brand", ">i4"),
    ("l_dims", ">i4"), ("dims", ">i2"),
    ("l_vec", ">i4"), ("vdim", ">i2"), ("vunused", ">i2"), ("vec", ">f4", (DIM,)),
])


def copy_rows(ids: np.ndarray, brands: np.ndarray, vectors: np.ndarray) -> bytes:
    """Rows in PostgreSQL's binary COPY format (pgvector's binary vector: dim, unused, float4s)."""
    rows = np.empty(len(ids), dtype=_ROW)
    rows["fields"] = 4
    rows["l_id"], rows["id"] = 8, ids
    rows["l_brand"], rows["brand"] = 4, brands
    rows["l_dims"], rows["dims"] = 2, DIM
    rows["l_vec"], rows["vdim"], rows["vunused"] = 4 + 4 * DIM, DIM, 0
    rows["vec"] = vectors
    return rows.tobytes()


class TopK:
    """Running exact top-k (by cosine) of each query over the rows seen so far."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.q, self.k = queries, k
        self.ids = np.full((len(queries), 0), -1, dtype=np.int64)
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        sims = self.q @ vectors.T
        take = min(self.k, sims.shape[1])
        part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        scores = np.concatenate([self.scores, np.take_along_axis(sims, part, axis=1)], axis=1)
        ids_all = np.concatenate([self.ids, ids[part]], axis=1)
        order = np.argsort(-scores, axis=1)[:, : self.k]
        self.scores = np.take_along_axis(scores, order, axis=1)
        self.ids = np.take_along_axis(ids_all, order, axis=1)


def load(conn, table: str, size: int, queries_n: int, k: int) -> tuple[dict, np.ndarray, dict[str, TopK], dict]:
    gen = Generator(size)
    queries = gen.points(queries_n)  # drawn first, so every size has the same kind of queries
    truth = {"all": TopK(queries, k), **{label: TopK(queries, k) for label in BRANDS}}
    counts = {label: 0 for label in BRANDS}
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, brand_id integer NOT NULL, dimensions smallint NOT NULL, "
        "embedding vector NOT NULL)"
    )
    started = time.perf_counter()
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    statement = f"COPY {table} (id, brand_id, dimensions, embedding) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(header)
        for offset in range(0, size, BATCH):
            n = min(BATCH, size - offset)
            ids = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
            vectors, brands = gen.points(n), gen.brands(n)
            copy.write(copy_rows(ids, brands, vectors))
            truth["all"].add(ids, vectors)
            for label, (brand, _) in BRANDS.items():
                mask = brands == brand
                counts[label] += int(mask.sum())
                truth[label].add(ids[mask], vectors[mask])
        copy.write(struct.pack(">h", -1))
    conn.commit()
    load_s = time.perf_counter() - started
    conn.execute(f"ANALYZE {table}")
    conn.commit()
    return {"load_seconds": round(load_s, 1), "brand_rows": counts}, queries, truth, counts


def build(conn, table: str, *, maintenance_work_mem: str, workers: int, m: int = 24, ef_construction: int = 128) -> dict:
    conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
    conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
    started = time.perf_counter()
    # The app's index (migration agents/0004 and agents.knowledge.ensure_dimension_index).
    conn.execute(
        f"CREATE INDEX {table}_384_hnsw ON {table} USING hnsw ((embedding::vector(384)) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE dimensions = 384"
    )
    conn.commit()
    hnsw_s = time.perf_counter() - started
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX {table}_brand_dim ON {table} (brand_id, dimensions)")
    conn.commit()
    btree_s = time.perf_counter() - started
    conn.execute(f"ANALYZE {table}")
    conn.commit()
    size_mb = conn.execute(f"SELECT pg_relation_size('{table}_384_hnsw') / 1048576.0").fetchone()[0]
    return {"hnsw_build_seconds": round(hnsw_s, 1), "btree_build_seconds": round(btree_s, 2),
            "hnsw_index_mb": round(float(size_mb), 1)}


# --- queries ---------------------------------------------------------------------------------------

def sql(table: str, filtered: bool) -> str:
    brand = "AND brand_id = %s " if filtered else ""
    return (f"SELECT id, embedding::vector(384) <=> %s::vector(384) AS distance FROM {table} "
            f"WHERE dimensions = 384 {brand}ORDER BY distance LIMIT %s")


def run_queries(conn, table: str, queries: np.ndarray, truth: TopK, *, brand: int | None, k: int,
                limit: int | None = None, overfetch: int = 1) -> dict:
    """As agents.knowledge.retrieve_by_vector: fetch k × overfetch rows, sort them by distance, keep k."""
    text = sql(table, brand is not None)
    times, recalls, short = [], [], 0
    n = len(queries) if limit is None else min(limit, len(queries))
    for i in range(n):
        params = [queries[i]] + ([brand] if brand is not None else []) + [k * overfetch]
        started = time.perf_counter()
        rows = sorted(conn.execute(text, params, prepare=True).fetchall(), key=lambda r: r[1])[:k]
        times.append((time.perf_counter() - started) * 1000)
        got = {r[0] for r in rows}
        short += len(rows) < k
        expected = set(truth.ids[i].tolist())
        recalls.append(len(got & expected) / k)
    times.sort()
    return {
        "recall_at_10": round(statistics.fmean(recalls), 4),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
        "queries_short_of_k": short,
        "queries": n,
    }


def plan_of(conn, table: str, query: np.ndarray, brand: int | None, k: int) -> str:
    params = [query] + ([brand] if brand is not None else []) + [k]
    lines = [r[0] for r in conn.execute("EXPLAIN " + sql(table, brand is not None), params).fetchall()]
    text = " ".join(lines)
    return "hnsw" if "_384_hnsw" in text else ("btree+exact" if "brand_dim" in text else "seqscan")


def scan_settings(conn, ef: int, k: int) -> None:
    conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', false), "
                 "set_config('hnsw.ef_search', %s, false), set_config('hnsw.max_scan_tuples', %s, false)",
                 [str(max(ef, k)), str(MAX_SCAN_TUPLES)])


def bench_size(conn, size: int, args) -> dict:
    table = f"bench_chunks_{size}"
    k = args.k
    log(f"\n== {size:,} chunks of {DIM} dimensions ==")
    info, queries, truth, counts = load(conn, table, size, args.queries, k)
    log(f"  loaded by binary COPY in {info['load_seconds']} s "
        f"(brand 1%: {counts['1%']:,} rows, brand 10%: {counts['10%']:,} rows)")
    info.update(build(conn, table, maintenance_work_mem=args.maintenance_work_mem, workers=args.workers,
                       m=args.m, ef_construction=args.ef_construction))
    log(f"  HNSW index (m={args.m}, ef_construction={args.ef_construction}) built in {info['hnsw_build_seconds']} s, "
        f"{info['hnsw_index_mb']} MB; brand btree in {info['btree_build_seconds']} s")

    # Warm the index into memory (as a running service has it), then the exact-search baseline.
    conn.execute(f"SELECT count(*) FROM {table}")
    scan_settings(conn, 40, k)
    run_queries(conn, table, queries, truth["all"], brand=None, k=k, limit=20)
    conn.execute("SET enable_indexscan = off")
    conn.execute("SET enable_bitmapscan = off")
    exact = run_queries(conn, table, queries, truth["all"], brand=None, k=k, limit=args.exact_queries)
    exact_brand = run_queries(conn, table, queries, truth["1%"], brand=BRANDS["1%"][0], k=k,
                              limit=args.exact_queries)
    conn.execute("RESET enable_indexscan")
    conn.execute("RESET enable_bitmapscan")
    conn.commit()
    info["exact"] = {"p50_ms": exact["p50_ms"], "recall_at_10": exact["recall_at_10"], "queries": exact["queries"],
                     "brand_1pct_p50_ms": exact_brand["p50_ms"]}
    log(f"  baseline, exact search (sequential scan, {exact['queries']} queries): p50 {exact['p50_ms']} ms, "
        f"recall@{k} {exact['recall_at_10']:.3f} (checks the ground truth)")

    info["ef_search"] = {}
    for ef in args.ef:
        scan_settings(conn, ef, k)
        of = args.overfetch
        row = {"all": run_queries(conn, table, queries, truth["all"], brand=None, k=k, overfetch=of)}
        row["all"]["plan"] = plan_of(conn, table, queries[0], None, k * of)
        for label, (brand, _) in BRANDS.items():
            # As the app: a brand with few enough rows is searched exactly through its btree.
            exact_path = counts[label] <= args.exact_below
            if exact_path:
                conn.execute("SET enable_indexscan = off")
            r = run_queries(conn, table, queries, truth[label], brand=brand, k=k, overfetch=of)
            r["plan"] = plan_of(conn, table, queries[0], brand, k * of)
            if exact_path:
                conn.execute("RESET enable_indexscan")
            row[f"brand_{label.rstrip('%')}pct"] = r
        # The same filtered queries with the HNSW index as the only path (the btree dropped in a
        # transaction that is rolled back), to show what iterative scans do on their own.
        conn.execute(f"DROP INDEX {table}_brand_dim")
        conn.execute("SET LOCAL enable_seqscan = off")
        for label, (brand, _) in BRANDS.items():
            r = run_queries(conn, table, queries, truth[label], brand=brand, k=k, overfetch=of)
            r["plan"] = plan_of(conn, table, queries[0], brand, k * of)
            row[f"brand_{label.rstrip('%')}pct_hnsw_only"] = r
        conn.rollback()
        scan_settings(conn, ef, k)
        info["ef_search"][str(ef)] = row
        a = row["all"]
        log(f"  ef_search={ef}: no filter    recall@{k} {a['recall_at_10']:.3f}  p50 {a['p50_ms']:.2f} ms  "
            f"p95 {a['p95_ms']:.2f} ms  ({exact['p50_ms'] / a['p50_ms']:.0f}× faster than exact)")
        for key in ("brand_1pct", "brand_10pct", "brand_1pct_hnsw_only", "brand_10pct_hnsw_only"):
            r = row[key]
            log(f"  ef_search={ef}: {key:<21} recall@{k} {r['recall_at_10']:.3f}  p50 {r['p50_ms']:.2f} ms  "
                f"p95 {r['p95_ms']:.2f} ms  plan {r['plan']:<10} short of k: {r['queries_short_of_k']}/{r['queries']}")
    if not args.keep:
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=10, help="queries timed for the exact baseline")
    parser.add_argument("--ef", default="100,200,400,1000", help="hnsw.ef_search values")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--exact-below", type=int, default=15_000,
                        help="a brand with at most this many rows is searched exactly (AIOS_RETRIEVE_EXACT_BELOW)")
    parser.add_argument("--overfetch", type=int, default=2,
                        help="fetch k × this many rows and keep the best k (AIOS_RETRIEVE_OVERFETCH)")
    parser.add_argument("--maintenance-work-mem", default="6GB")
    parser.add_argument("--m", type=int, default=24, help="HNSW m (the app's index: 24)")
    parser.add_argument("--ef-construction", type=int, default=128, help="HNSW ef_construction (the app's index: 128)")
    parser.add_argument("--workers", type=int, default=2, help="max_parallel_maintenance_workers")
    parser.add_argument("--shared-buffers", default="4GB")
    parser.add_argument("--keep", action="store_true", help="keep the tables afterwards")
    args = parser.parse_args()
    args.ef = [int(v) for v in args.ef.split(",")]
    sizes = [int(v.replace("_", "")) for v in args.sizes.split(",")]

    import psycopg
    from pgvector.psycopg import register_vector

    datadir = BASE_DIR / "var" / "bench-retrieval" / "pgdata"
    log(f"retrieval benchmark: sizes {sizes}, {args.queries} queries, k={args.k} (fetched ×{args.overfetch}, "
        f"re-sorted), ef_search {args.ef}, "
        f"data in {datadir.relative_to(BASE_DIR)} (pid {os.getpid()})")
    server, uri = start_server(datadir, shared_buffers=args.shared_buffers)
    results: dict = {}
    try:
        with psycopg.connect(uri) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.commit()
            register_vector(conn)
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
            log(f"PostgreSQL {conn.info.server_version // 10000}, pgvector {version}, "
                f"maintenance_work_mem {args.maintenance_work_mem}, {args.workers} parallel build workers")
            for size in sizes:
                results[str(size)] = bench_size(conn, size, args)
    finally:
        from aios import devstack

        devstack.stop_postgres(server)

    summary = {"dimensions": DIM, "k": args.k, "overfetch": args.overfetch, "exact_below_rows": args.exact_below,
               "queries": args.queries,
               "sizes": results}
    big = results.get("1000000")
    if big:
        best = None
        for ef, row in big["ef_search"].items():
            ok = all(row[key]["recall_at_10"] >= TARGET_RECALL and row[key]["p95_ms"] <= TARGET_P95_MS
                     for key in ("all", "brand_1pct", "brand_10pct"))
            if ok and best is None:
                best = int(ef)
        summary["target_1m"] = {"recall_at_10_min": TARGET_RECALL, "p95_ms_max": TARGET_P95_MS,
                                "met_at_ef_search": best}
        log(f"\ntarget at 1M (recall@10 ≥ {TARGET_RECALL}, p95 ≤ {TARGET_P95_MS:.0f} ms, with and without "
            f"the brand filter): {'met at ef_search=' + str(best) if best else 'NOT met'}")
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()

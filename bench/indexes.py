"""What the case/document and benefit indexes cost: the initial load until searchable, and a
citizen's overview under concurrent load, each against the raw engines in the same run.

On a synthetic municipality (`indexes.synthetic.generate`, seeded; --citizens scales it: about 2.6
cases, 8 documents, 0.24 grants and 3.2 payments per citizen), with the seed classifications, a
synthetic KLE plan and a synthetic organisation of 200 units loaded first (untimed):

    ingest           indexes.bulk.import_jsonl of every record (batches of 1,000, each validated while
                     the one before is written, as `flask indexes import-jsonl` runs it) with the search indexer
                     (`flask search worker`, its own process as under `make run`) running alongside,
                     until the outbox is empty and the index refreshed: records per second until all
                     is searchable
                     (targets: at least 3,000/s, and at least 50 % of the raw rate)
    raw_copy         the same rows COPYed into a table shaped like index_object (same columns and
                     indexes, no triggers), and raw_es_bulk: the same search documents bulk-indexed
                     into a fresh index with the same mappings, refreshed; raw rate = records /
                     (copy time + bulk time)
    overview_api / overview_raw
                     POST /api/v1/sdi/overview over HTTP to the API under granian as `make run`
                     serves it (2 workers x 4 threads), for random citizens (cases and documents,
                     first page of 50) by a system whose agreement constrains KLE subjects, units and
                     sensitivity, from 8 client threads at once (keep-alive connections); and the
                     same Elasticsearch body (indexes.reads.overview_body with the same filters)
                     sent raw from 8 threads: p50 and p99, once the load's merges and VACUUM ANALYZE
                     are done (`segments`: the index's segment count then), after --warmup requests
                     per side, timed in --rounds rounds that alternate the two sides
                     (targets: API p50 / raw p50 at most 1.5; API p99 under 50 ms)

A figure whose prerequisite is missing is one {"name": ..., "skipped": why} line.  The last line is
the summary, each target as {"value", "target", "ok"}.  Exits 0 when it could run.

    .venv/bin/python -m bench.indexes [--citizens N] [--requests N] [--concurrency N] [--warmup N] [--rounds N]

It makes a scratch database `sts_bench_<pid>` and an index prefix `bench_<pid>_`, dropped afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from app.bitemporal.periods import copenhagen_today
from app.search.indexer import drain
from app.startup import freeze_startup_objects
from bench.organisation_setup import load_organisation
from bench.scratch import api_server, emit, flask_process, log, machine, scratch_app, service_urls
from indexes import search as index_search
from indexes.bulk import import_jsonl
from indexes.reads import overview_body
from indexes.synthetic import generate, lines, sizes
from tests.world import World, bearer

MUNICIPALITY = 751
RATE_TARGET = 3000.0
RAW_SHARE_TARGET = 0.5
OVERVIEW_RATIO_TARGET = 1.5
OVERVIEW_P99_MS_TARGET = 50.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def check(value, target, *, at_least: bool = False, **extra) -> dict:
    ok = value is not None and (value >= target if at_least else value <= target)
    return {"value": value, "target": target, "ok": ok, **extra}


def concurrent(fn, jobs: list, threads: int) -> list[float]:
    """Run fn(job) for every job from `threads` threads; the latency of each call in ms."""
    out: list[float] = []
    lock, it = threading.Lock(), iter(jobs)

    def worker() -> None:
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                return
            t0 = time.perf_counter()
            fn(job)
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                out.append(ms)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return out


def _chunks(f, lines: int):
    """The file's lines, `lines` at a time, as bytes."""
    while True:
        block = b"".join(line for _, line in zip(range(lines), f, strict=False))
        if not block:
            return
        yield block


class Bench:
    def __init__(self, app, emit):
        self.app, self.emit = app, emit
        self.db, self.search = app.extensions["sts.db"], app.extensions["sts.search"]
        self.port = 0

    def prepare(self, citizens: int, seed: int) -> tuple[list[str], World, dict]:
        with self.app.app_context():
            units, kle, facets = load_organisation(self.app, MUNICIPALITY, units=200, users=1000, seed=seed)
            self.search.ensure_indexes()
            drain(self.db, self.search, refresh=True)
        world = World(self.app)
        world.vendor("Bench vendor")
        world.system("bench-master", "Bench vendor")
        t0 = time.perf_counter()
        records = list(generate(seed, municipality_code=MUNICIPALITY, citizens=citizens, kle_codes=kle,
                                action_facets=facets, units=units, master_systems=[world.ids["bench-master"]],
                                today=copenhagen_today()))
        data = list(lines(records))
        kinds = Counter(r["kind"] for r in records)
        parties = sorted({p["urn"] for r in records if r["kind"] == "sag" for p in r["parties"]})
        self.emit({"name": "synthetic", "citizens": citizens, **kinds, "records": len(data),
                   "expected": sizes(citizens), "bytes": sum(len(x) + 1 for x in data),
                   "generate_s": round(time.perf_counter() - t0, 2)})
        return data, world, {"parties": parties, "units": units, "kle": kle}

    def _indexer(self) -> subprocess.Popen:
        """`flask search worker` on the scratch database and prefix: the indexer process of `make run`."""
        return flask_process(self.app, "search", "worker")

    @contextmanager
    def api_server(self):
        with api_server(self.app) as port:
            self.port = port
            yield

    def _outbox(self) -> int:
        with self.db.transaction() as conn:
            return conn.execute("SELECT count(*) AS n FROM search_outbox").fetchone()["n"]

    def ingest(self, data: list[str], system_id: str, workers: int) -> dict:
        last = [0.0]

        def progress(p: dict) -> None:
            if time.monotonic() - last[0] > 10 or p["done"] == p["total"]:
                last[0] = time.monotonic()
                log(f"ingest: {p['done']:,}/{p['total']:,} lines, {p['rate']:,.0f}/s, {p['rejected']} rejected")

        indexer = self._indexer()
        try:
            with self.app.app_context():
                freeze_startup_objects()  # as `flask indexes import-jsonl` does
                t0 = time.perf_counter()
                result = import_jsonl(self.db, MUNICIPALITY, system_id, data, job="bench", batch=1000,
                                      progress=progress, workers=workers)
                t1 = time.perf_counter()
                while self._outbox():
                    time.sleep(0.05)
                self.search.client.indices.refresh(index=self.search.alias(index_search.KIND))
                t2 = time.perf_counter()
        finally:
            indexer.terminate()
            indexer.wait(30)
        n = len(data)
        return {"name": "ingest", "records": n, "import_s": round(t1 - t0, 2), "drain_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2), "rate": round(n / (t2 - t0), 1), "accepted": result["accepted"],
                "rejected": result["rejected"], "first_rejections": result["rejected_records"][:3]}

    def raw(self) -> tuple[dict, dict]:
        """The raw engines on the same data: the rows COPYed into a table shaped like index_object,
        and the same search documents bulk-indexed into a fresh index; both read from files
        written first (untimed), so only the engines' work is timed."""
        columns = ("uuid, kind, municipality_code, master_system, changed_at, registration_no, record, kle, unit, "
                   "unit_path, sensitivity, parties, sort_date")
        with tempfile.TemporaryDirectory(prefix="bench-raw-") as tmp:
            rows_file, docs_file = Path(tmp) / "rows.copy", Path(tmp) / "docs.ndjson"
            with self.db.transaction() as conn:
                conn.execute("SET LOCAL statement_timeout = 0")
                conn.execute("CREATE TABLE raw_index_object (LIKE index_object INCLUDING ALL)")
                with rows_file.open("wb") as f, conn.cursor().copy(
                        f"COPY (SELECT {columns} FROM index_object) TO STDOUT") as out:
                    for chunk in out:
                        f.write(chunk)
                rows = conn.execute("SELECT count(*) AS n FROM index_object").fetchone()["n"]
            t0 = time.perf_counter()
            with self.db.transaction() as conn, rows_file.open("rb") as f:
                conn.execute("SET LOCAL statement_timeout = 0")  # a million rows take longer than a request may
                with conn.cursor().copy(f"COPY raw_index_object ({columns}) FROM STDIN") as copy:
                    while block := f.read(1 << 20):
                        copy.write(block)
            copy_s = time.perf_counter() - t0
            docs = 0
            with self.db.transaction() as conn, docs_file.open("w", encoding="utf-8") as f:
                after = None
                while batch := index_search.scan(conn, after, 5000):
                    for key, _v, doc in batch:
                        f.write(json.dumps({"index": {"_id": key}}) + "\n" + json.dumps(doc, ensure_ascii=False) + "\n")
                    docs += len(batch)
                    after = batch[-1][0]
            es = self.search.client.options(request_timeout=300)
            name = f"{self.search.prefix}raw-bulk"
            es.indices.create(index=name, mappings=index_search.MAPPINGS,
                              settings={"number_of_shards": 1, "number_of_replicas": 0})
            t0 = time.perf_counter()
            with docs_file.open("rb") as f:
                for chunk in _chunks(f, 2000):  # 1,000 documents per bulk request, as the indexer sends
                    answer = es.bulk(index=name, operations=chunk)
                    if answer["errors"]:
                        raise RuntimeError("the raw bulk had errors")
            es.indices.refresh(index=name)
            es_s = time.perf_counter() - t0
            es.indices.delete(index=name)
        return ({"name": "raw_copy", "rows": rows, "s": round(copy_s, 2), "rate": round(rows / copy_s, 1)},
                {"name": "raw_es_bulk", "docs": docs, "s": round(es_s, 2), "rate": round(docs / es_s, 1)})

    def settle(self, wait_s: float = 120.0) -> dict:
        """Let the load's after-work finish before the overview is timed, as it would in service:
        Elasticsearch's segment merges (waited for, at most `wait_s`) and PostgreSQL's statistics and
        visibility map (VACUUM ANALYZE, what autovacuum does after a large load).  No force merge."""
        es, alias = self.search.client, self.search.alias(index_search.KIND)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not es.indices.stats(index=alias, metric="merge")["_all"]["primaries"]["merges"]["current"]:
                break
            time.sleep(1)
        with self.db.autocommit() as conn:
            conn.execute("SET statement_timeout = 0")
            conn.execute("VACUUM (ANALYZE) index_object, index_registration, index_relation, access_log")
            conn.execute("RESET statement_timeout")
        return {"segments": len(es.cat.segments(index=alias, format="json"))}

    def overview(self, world: World, info: dict, *, requests: int, threads: int, seed: int, warmup: int = 1000,
                 rounds: int = 4) -> tuple[dict, dict]:
        rng = random.Random(seed)
        kle_main = sorted({c.split(".")[0] for c in info["kle"]})
        constraints = {"kle": [f"{m}.*" for m in kle_main[: max(1, len(kle_main) * 2 // 3)]],
                       "sensitivity": "FOELSOMME_PERSONOPLYSNINGER", "see_cpr": True, "see_name": True,
                       "org_units": [{"uuid": u, "subtree": True} for u in info["units"][:1]]}
        world.system("bench-reader", "Bench vendor")
        world.agreement("bench-reader", "sdi", MUNICIPALITY, roles=("read",), constraints=constraints)
        headers = {**bearer(world.token("bench-reader", "sdi", MUNICIPALITY)), "Content-Type": "application/json"}
        parties = [rng.choice(info["parties"]) for _ in range(requests)]
        warm = [rng.choice(info["parties"]) for _ in range(warmup)]
        local = threading.local()

        def api(party: str) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("POST", "/api/v1/sdi/overview", json.dumps({"party": party, "limit": 50}), headers)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError(f"overview answered {r.status}: {body[:200]!r}")

        body_of = {p: overview_body(MUNICIPALITY, ["sag", "dokument"], [[constraints]],
                                    {"party": p, "limit": 50}) for p in {*parties, *warm}}
        es, alias = self.search.client, self.search.alias(index_search.KIND)

        def raw(party: str) -> None:
            es.search(index=alias, **body_of[party])

        # Warm-up, then the timed requests in rounds that alternate the two sides (and which goes
        # first), as the other benches do: Elasticsearch's JIT and caches warm up over the first
        # thousand or so queries, and the machine's speed drifts; back to back, whichever side ran
        # first paid for both.
        for half in (warm[: warmup // 2], warm[warmup // 2:]):
            for fn in (api, raw):
                concurrent(fn, half, threads)
        timed: dict = {api: [], raw: []}
        for r in range(rounds):
            chunk = parties[r * requests // rounds:(r + 1) * requests // rounds]
            for fn in ((api, raw) if r % 2 == 0 else (raw, api)):
                timed[fn] += concurrent(fn, chunk, threads)
        return tuple({"name": name, "requests": requests, "threads": threads, "rounds": rounds, "warmup": warmup,
                      "p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2)}
                     for name, ms in (("overview_api", timed[api]), ("overview_raw", timed[raw])))


def run(urls: dict[str, str], emit, args) -> None:
    with scratch_app(urls) as app:
        bench = Bench(app, emit)
        data, world, info = bench.prepare(args.citizens, args.seed)
        ingest = bench.ingest(data, world.ids["bench-master"], args.workers)
        emit(ingest)
        copy, bulk = bench.raw()
        emit(copy)
        emit(bulk)
        raw_rate = copy["rows"] / (copy["s"] + bulk["s"])
        settled = bench.settle()
        with app.app_context(), bench.api_server():
            api, raw = bench.overview(world, info, requests=args.requests, threads=args.concurrency, seed=args.seed,
                                      warmup=args.warmup, rounds=args.rounds)
        emit({**api, **settled})
        emit({**raw, **settled})
    emit({"name": "summary",
          "ingest_records_per_s": check(ingest["rate"], RATE_TARGET, at_least=True),
          "ingest_share_of_raw": check(round(ingest["rate"] / raw_rate, 3), RAW_SHARE_TARGET, at_least=True,
                                       raw_rate=round(raw_rate, 1)),
          "overview_api_over_raw_p50": check(round(api["p50_ms"] / raw["p50_ms"], 2), OVERVIEW_RATIO_TARGET),
          "overview_api_p99_ms": check(api["p99_ms"], OVERVIEW_P99_MS_TARGET),
          "records": ingest["records"], "citizens": args.citizens, **machine()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=20000, help="size of the synthetic municipality")
    parser.add_argument("--requests", type=int, default=2000, help="timed overview requests (each side)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads sending overview requests")
    parser.add_argument("--warmup", type=int, default=1000, help="untimed overview requests first (each side)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds alternating API and raw")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes validating records ahead of the writes (0: a thread, as the CLI's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    run(service_urls(), emit, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

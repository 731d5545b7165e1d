"""What Organisation costs: a large municipality's bulk load, reads as of a past date, the whole
hierarchy, a big unit's functions with their history, search.

Measured on a synthetic municipality (`organisation.synthetic.generate`: by default 5,000 units,
50,000 users, about 60,000 functions, ten years of history with about five registrations per unit,
one future-dated reorganisation, one institution with 1,100 engagements), loaded into a scratch
database with the seed classifications and a synthetic KLE subject plan (both untimed), against
reference figures for the raw engine taken in the same run:

    bulk_load        organisation.bulk.import_jsonl of all records (batches of 500, a job name),
                     with the search indexer (app.search.indexer.run_worker) running alongside as
                     `make run` runs it, then the rest of the outbox and one index refresh: the
                     time until the organisation is searchable (target: under 120 s);
                     --sequential-indexing drains only after the import, for comparison
    unit_now / unit_as_of
                     GET /api/v1/organisation/units/{uuid}, random units, without valid_at and with
                     valid_at = a past date (--as-of-years back); interleaved (target: as of / now
                     at most 1.2)
    hierarchy_api / hierarchy_raw_sql
                     GET /api/v1/organisation/hierarchy?valid_at=<the past date>, following
                     next_cursor to the end (the route's default page size), and one SQL query
                     returning the same rows (one per unit, its facts aggregated, in UUID order),
                     fetched as tuples (target: API / raw at most 2, API under 200 ms); an
                     untimed check says whether they agree (same_as_api)
    unit_functions_history
                     GET /api/v1/organisation/units/{big unit}/functions?history=true: every
                     function that ever named the unit with all its facts (target: under 100 ms)
    search_api / search_raw
                     GET /api/v1/organisation/search?q=<a word of a unit name>&limit=20 and the
                     same body sent raw (organisation.search_query.query_body), each after a
                     5 ms pause (--think-ms; see bench/klassifikation.py on why) (target: p50
                     API / raw at most 1.5); *_hot: the same back to back, for comparison

A figure whose route (or module) does not exist yet is one `{"name": ..., "skipped": why}` line.
The last line is the summary, each target as {"value", "target", "ok"}.  Always exits 0 when it
could run: the targets are to be read, not a gate.

    .venv/bin/python -m bench.organisation [--units N --users N] [--iterations N]

It makes a scratch database `sts_bench_<pid>` from the migrations and an index prefix
`bench_<pid>_`, and drops both afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from psycopg import sql
from psycopg.rows import tuple_row

from app.bitemporal.periods import copenhagen_today, local_midnight
from app.search.indexer import drain, run_worker
from bench.authz import measure
from bench.klassifikation import check, timing
from bench.scratch import log, scratch_app
from organisation.synthetic import ensure_kle_codes, generate, lines
from scripts import services
from tests.world import World, bearer

MUNICIPALITY = 751
LOAD_TARGET_S = 120.0
AS_OF_TARGET = 1.2
HIERARCHY_TARGET = 2.0
HIERARCHY_MS_TARGET = 200.0
FUNCTIONS_MS_TARGET = 100.0
SEARCH_TARGET = 1.5
SEARCH_LIMIT = 20
PREFIX = "/api/v1/organisation"
ROUTES = {"unit": f"{PREFIX}/units/<uuid:unit_uuid>", "hierarchy": f"{PREFIX}/hierarchy",
          "functions": f"{PREFIX}/units/<uuid:unit_uuid>/functions", "search": f"{PREFIX}/search"}
UNIT_FIELDS = ("user_key", "name", "unit_type", "parent")

Emit = Callable[[dict], None]

# The units of a municipality existing at (v, r) with their user key, name, type and parent: the rows
# GET /hierarchy answers (one per unit, in UUID order), in one query without paging.
HIERARCHY_RAW_SQL = """
    SELECT f.uuid, jsonb_object_agg(f.field, f.value)
      FROM enhed o
      JOIN enhed_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
      JOIN enhed_fact f ON f.uuid = o.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
                       AND f.field IN ('user_key', 'name', 'unit_type', 'parent')
     WHERE o.municipality_code = %(m)s
     GROUP BY f.uuid
    HAVING bool_or(f.field = 'user_key')
     ORDER BY f.uuid
"""


class BenchError(Exception):
    """A figure that could not be taken (e.g. the route answered something else than 200)."""


class Bench:
    """One scratch database with the synthetic organisation loaded, and the figures taken on it."""

    def __init__(self, app, token: Callable[[], str], emit: Emit):
        self.app, self.emit, self.token = app, emit, token
        self.client = app.test_client()
        self.headers = bearer(token())
        self.db = app.extensions["sts.db"]
        self.search = app.extensions["sts.search"]
        self.rules = {r.rule: r for r in app.url_map.iter_rules()}
        self.records: list[dict] = []

    def missing(self, *routes: str) -> str | None:
        """Why a figure cannot be taken (a route that is not there), or None."""
        absent = [ROUTES[r] for r in routes
                  if ROUTES[r] not in self.rules or "GET" not in (self.rules[ROUTES[r]].methods or ())]
        return f"no route {', '.join(absent)} yet" if absent else None

    def skipped(self, name: str, why: str) -> None:
        self.emit({"name": name, "skipped": why})

    def fresh_token(self) -> None:
        """A new system token: they live TOKEN_LIFETIME_SECONDS (5 minutes), the load takes longer."""
        self.headers = bearer(self.token())

    @staticmethod
    def only_200(statuses: Counter, what: str) -> None:
        if set(statuses) != {200}:
            raise BenchError(f"{what} answered {dict(statuses)}")

    # -- setup and (a) the load -----------------------------------------------------------------------------

    def prepare(self, *, seed: int, units: int, users: int, years: int) -> list[str]:
        """Seed classes and a synthetic KLE plan (untimed), the outbox delivered; the records as JSON lines."""
        from classification.seed import load_seed

        with self.app.app_context():
            with self.db.transaction() as conn:
                load_seed(conn, actor="bench.organisation")
                log("importing a synthetic KLE subject plan (untimed)")
                codes = ensure_kle_codes(conn, actor="bench.organisation")
            self.search.ensure_indexes()
            drain(self.db, self.search, refresh=True)
        self.today = copenhagen_today()
        t0 = time.perf_counter()
        self.records = list(generate(seed, units=units, users=users, years=years, today=self.today,
                                     reorganisation_at=self.today + timedelta(days=61), kle_codes=codes))
        data = list(lines(self.records))
        kinds = Counter(r["kind"] for r in self.records)
        positions = sum(len(r["positions"]) for r in self.records if r["kind"] == "user")
        final = {r["uuid"]: r for r in self.records if r["kind"] == "unit"}
        self.emit({"name": "synthetic", "units": len(final), "unit_records": kinds["unit"], "users": kinds["user"],
                   "functions": positions + sum(1 for u in final.values() if u["manager_uuid"])
                   + sum(1 for u in final.values() if u["paying_unit_uuid"]),
                   "bytes": sum(len(x.encode()) + 1 for x in data), "generate_s": round(time.perf_counter() - t0, 2)})
        return data

    def load(self, data: list[str], *, batch: int, sequential: bool = False) -> dict:
        try:
            from organisation.bulk import import_jsonl
        except ImportError:
            return {"name": "bulk_load", "skipped": "no organisation.bulk.import_jsonl yet"}
        last = [0.0]

        def progress(p: dict) -> None:
            if time.monotonic() - last[0] > 5 or p["done"] == p["total"]:
                last[0] = time.monotonic()
                log(f"bulk load: {p['done']:,}/{p['total']:,} steps, {p['rate']:,.0f}/s, "
                    f"{p['rejected']} rejected")

        # The indexer runs alongside the import, as `make run` runs it (--sequential-indexing: after it).
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(self.db, self.search), daemon=True,
                                  kwargs={"batch_size": 500, "max_backoff": 5.0, "poll_interval": 1.0, "stop": stop})
        with self.app.app_context():
            t0 = time.perf_counter()
            if not sequential:
                worker.start()
            result = import_jsonl(self.db, MUNICIPALITY, data, job="bench", batch=batch, progress=progress,
                                  actor="bench.organisation")
            t1 = time.perf_counter()
            stop.set()
            if not sequential:
                worker.join()
            log("draining the rest of the search outbox")
            delivered = drain(self.db, self.search)
            self.search.client.indices.refresh(index=f"{self.search.prefix}*")  # searchable from here
            t2 = time.perf_counter()
        with self.db.transaction() as conn:  # what autovacuum does soon after a bulk load
            for kind in ("enhed", "bruger", "person", "funktion"):
                for table in (kind, f"{kind}_registration", f"{kind}_fact"):
                    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        return {"name": "bulk_load", "lines": len(data), "indexing": "after" if sequential else "alongside",
                "import_s": round(t1 - t0, 2), "drain_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
                "accepted": result["accepted"], "unchanged": result["unchanged"],
                "rejected": len(result["rejected"]), "first_rejections": result["rejected"][:3],
                "delivered": delivered}

    # -- (b) one unit now and as of -------------------------------------------------------------------------

    def past(self, years: int):
        return self.today.replace(year=self.today.year - years)

    def unit_reads(self, *, as_of_years: int, iterations: int, warmup: int, rounds: int, seed: int) -> list[dict]:
        day = self.past(as_of_years).isoformat()
        first = {}
        for r in self.records:
            if r["kind"] == "unit":
                first.setdefault(r["uuid"], r["valid_from"])
        existing = sorted(u for u, since in first.items() if since <= day)
        rng = random.Random(seed)
        sequence = [rng.choice(existing) for _ in range(iterations + warmup + rounds)]
        statuses: Counter = Counter()

        def timer(params: dict) -> Callable[[], int]:
            position = itertools.count()

            def one() -> int:
                uuid = sequence[next(position) % len(sequence)]
                t0 = time.perf_counter_ns()
                r = self.client.get(f"{PREFIX}/units/{uuid}", query_string=params, headers=self.headers)
                t1 = time.perf_counter_ns()
                statuses[r.status_code] += 1
                return t1 - t0
            return one

        log(f"unit reads: {iterations} now and as of {day}")
        samples = measure({"unit_now": timer({}), "unit_as_of": timer({"valid_at": day})},
                          iterations=iterations, warmup=warmup, rounds=rounds)
        self.only_200(statuses, "GET /units/{uuid}")
        return [timing("unit_now", samples["unit_now"], statuses=dict(statuses)),
                timing("unit_as_of", samples["unit_as_of"], valid_at=day)]

    # -- (c) the whole hierarchy ----------------------------------------------------------------------------

    def hierarchy(self, *, as_of_years: int, iterations: int) -> list[dict]:
        day = self.past(as_of_years)
        v = local_midnight(day)
        api_items: list[dict] = []
        raw_rows: list[tuple] = []
        pages: list[int] = []

        def api() -> int:
            items, cursor, n = [], None, 0
            t0 = time.perf_counter_ns()
            while True:
                params = {"valid_at": day.isoformat(), **({"cursor": cursor} if cursor else {})}
                r = self.client.get(f"{PREFIX}/hierarchy", query_string=params, headers=self.headers)
                self.only_200(Counter([r.status_code]), "GET /hierarchy")
                body = r.get_json()
                items += body["items"]
                n += 1
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            t1 = time.perf_counter_ns()
            pages.append(n)
            api_items[:] = items
            return t1 - t0

        conn = self.db.pool.getconn()
        conn.autocommit = True
        try:
            def raw() -> int:
                t0 = time.perf_counter_ns()
                with conn.cursor(row_factory=tuple_row) as cur:
                    rows = cur.execute(HIERARCHY_RAW_SQL, {"m": MUNICIPALITY, "v": v, "r": datetime.now(UTC),
                                                           "inactive": ["Slettet", "Passiveret"]},
                                       prepare=False).fetchall()
                t1 = time.perf_counter_ns()
                raw_rows[:] = rows
                return t1 - t0

            log(f"hierarchy: {iterations} walks through the API and the raw SQL, as of {day}")
            samples = measure({"api": api, "raw": raw}, iterations=iterations, warmup=1, rounds=iterations)
        finally:
            conn.autocommit = False
            self.db.pool.putconn(conn)
        raw_items = [{"uuid": str(uuid), **{k: facts.get(k) for k in UNIT_FIELDS}} for uuid, facts in raw_rows]
        same = raw_items == [{k: x.get(k) for k in ("uuid", *UNIT_FIELDS)} for x in api_items]
        return [timing("hierarchy_api", samples["api"], "ms", units=len(api_items), pages=max(pages),
                       valid_at=day.isoformat()),
                timing("hierarchy_raw_sql", samples["raw"], "ms", units=len(raw_items), same_as_api=same)]

    # -- (d) the big unit's functions with their history ----------------------------------------------------

    def functions(self, *, iterations: int) -> dict:
        positions = Counter(p["unit_uuid"] for r in self.records if r["kind"] == "user" for p in r["positions"])
        big, engagements = positions.most_common(1)[0]
        url = f"{PREFIX}/units/{big}/functions"
        found = []

        def one() -> int:
            t0 = time.perf_counter_ns()
            r = self.client.get(url, query_string={"history": "true"}, headers=self.headers)
            t1 = time.perf_counter_ns()
            self.only_200(Counter([r.status_code]), "GET /units/{uuid}/functions?history=true")
            found.append((r.status_code, len(r.get_json()) if r.status_code == 200 else None))
            return t1 - t0

        log(f"unit functions: {iterations} reads of the history of a unit with {engagements} engagements")
        samples = measure({"history": one}, iterations=iterations, warmup=2, rounds=1)
        status, count = found[-1]
        return timing("unit_functions_history", samples["history"], "ms", unit_uuid=big, engagements=engagements,
                      functions=count, status=status)

    # -- (e) search -----------------------------------------------------------------------------------------

    def search_figures(self, *, iterations: int, warmup: int, rounds: int, seed: int,
                       think_ms: float) -> list[dict] | str:
        try:
            from organisation.search_query import KINDS, query_body
        except ImportError:
            return "no organisation.search_query.query_body (the query the route sends) yet"
        words = sorted({w for r in self.records if r["kind"] == "unit" for w in r["name"].split()
                        if len(w) >= 4 and w.isalpha()})
        rng = random.Random(seed)
        sequence = [rng.choice(words) for _ in range(iterations + warmup + rounds)]
        statuses: Counter = Counter()
        hits = Counter()

        def api(think: float) -> Callable[[], int]:
            position = itertools.count()

            def one() -> int:
                word = sequence[next(position) % len(sequence)]
                if think:
                    time.sleep(think)
                t0 = time.perf_counter_ns()
                r = self.client.get(f"{PREFIX}/search", query_string={"q": word, "limit": SEARCH_LIMIT},
                                    headers=self.headers)
                t1 = time.perf_counter_ns()
                statuses[r.status_code] += 1
                hits["api"] += bool(r.status_code == 200 and r.get_json()["items"])
                return t1 - t0
            return one

        def raw(think: float) -> Callable[[], int]:
            position = itertools.count()

            def one() -> int:
                word = sequence[next(position) % len(sequence)]
                if think:
                    time.sleep(think)
                t0 = time.perf_counter_ns()
                # What the route sends for this token: a system without see_name, no org-unit constraints.
                body = query_body({"q": word, "kind": "unit", "municipality": MUNICIPALITY}, see_names=False)
                result = self.search.search(KINDS["unit"], **body, size=SEARCH_LIMIT + 1)
                t1 = time.perf_counter_ns()
                hits["raw"] += bool(result["hits"]["hits"])
                return t1 - t0
            return one

        log(f"search: {iterations} queries through the API and raw, over {len(words)} words")
        think = think_ms / 1000
        with self.app.app_context():
            samples = measure({"api": api(think), "raw": raw(think), "api_hot": api(0), "raw_hot": raw(0)},
                              iterations=iterations, warmup=warmup, rounds=rounds)
        self.only_200(statuses, "GET /search")
        return [timing("search_api", samples["api"], think_ms=think_ms, statuses=dict(statuses),
                       with_hits=hits["api"]),
                timing("search_raw", samples["raw"], query="organisation.search_query.query_body, same arguments",
                       think_ms=think_ms, with_hits=hits["raw"]),
                timing("search_api_hot", samples["api_hot"], think_ms=0),
                timing("search_raw_hot", samples["raw_hot"], think_ms=0)]


def run(urls: dict[str, str], emit: Emit, args: argparse.Namespace) -> None:
    checks: dict[str, dict] = {}
    with scratch_app(urls) as app:
        with app.extensions["sts.db"].transaction() as conn:
            server_version = conn.info.server_version
        world = World(app)
        world.vendor("Bench vendor")
        world.system("bench-system", "Bench vendor")
        world.agreement("bench-system", "organisation", MUNICIPALITY, roles=("read",))
        bench = Bench(app, lambda: world.token("bench-system", "organisation", MUNICIPALITY), emit)
        data = bench.prepare(seed=args.seed, units=args.units, users=args.users, years=args.years)

        loaded = bench.load(data, batch=args.batch, sequential=args.sequential_indexing)
        emit(loaded)
        checks["bulk_load_searchable_s"] = (
            check(None, LOAD_TARGET_S, skipped=loaded["skipped"]) if "skipped" in loaded else
            check(loaded["total_s"], LOAD_TARGET_S, import_s=loaded["import_s"], drain_s=loaded["drain_s"],
                  rejected=loaded["rejected"]))
        if "skipped" in loaded:
            for name, target in (("unit_as_of_over_now", AS_OF_TARGET),
                                 ("hierarchy_api_over_raw_sql", HIERARCHY_TARGET),
                                 ("hierarchy_api_ms", HIERARCHY_MS_TARGET),
                                 ("unit_functions_history_ms", FUNCTIONS_MS_TARGET),
                                 ("search_api_over_raw", SEARCH_TARGET)):
                checks[name] = check(None, target, skipped="nothing loaded")
        else:
            take(bench, emit, args, checks)
    major, minor = divmod(server_version, 10000)
    emit({"name": "summary", **checks, "units": args.units, "users": args.users, "years": args.years,
          "cpus": os.cpu_count(), "python": platform.python_version(), "postgres": f"{major}.{minor}",
          "loadavg": [round(x, 2) for x in os.getloadavg()]})


def take(bench: Bench, emit: Emit, args: argparse.Namespace, checks: dict) -> None:
    """Figures (b) to (e), each skipped (with its check) when its route is not there or it fails."""
    def unit_reads() -> None:
        now, as_of = bench.unit_reads(as_of_years=args.as_of_years, iterations=args.iterations, warmup=args.warmup,
                                      rounds=args.rounds, seed=args.seed)
        emit(now)
        emit(as_of)
        checks["unit_as_of_over_now"] = check(as_of["median_us"] / now["median_us"], AS_OF_TARGET)

    def whole_hierarchy() -> None:
        api, raw = bench.hierarchy(as_of_years=args.as_of_years, iterations=args.hierarchy_iterations)
        emit(api)
        emit(raw)
        checks["hierarchy_api_over_raw_sql"] = check(api["median_ms"] / raw["median_ms"], HIERARCHY_TARGET,
                                                     same_as_api=raw["same_as_api"])
        checks["hierarchy_api_ms"] = check(api["median_ms"], HIERARCHY_MS_TARGET)

    def functions() -> None:
        line = bench.functions(iterations=args.hierarchy_iterations * 3)
        emit(line)
        checks["unit_functions_history_ms"] = check(line["median_ms"], FUNCTIONS_MS_TARGET,
                                                    engagements=line["engagements"])

    def search() -> None:
        searched = bench.search_figures(iterations=args.iterations, warmup=args.warmup, rounds=args.rounds,
                                        seed=args.seed, think_ms=args.think_ms)
        if isinstance(searched, str):
            raise BenchError(searched)
        for line in searched:
            emit(line)
        checks["search_api_over_raw"] = check(searched[0]["median_us"] / searched[1]["median_us"], SEARCH_TARGET,
                                              hot=round(searched[2]["median_us"] / searched[3]["median_us"], 2))

    figures = (
        ("unit_reads", "unit", unit_reads, {"unit_as_of_over_now": AS_OF_TARGET}),
        ("hierarchy", "hierarchy", whole_hierarchy,
         {"hierarchy_api_over_raw_sql": HIERARCHY_TARGET, "hierarchy_api_ms": HIERARCHY_MS_TARGET}),
        ("unit_functions_history", "functions", functions, {"unit_functions_history_ms": FUNCTIONS_MS_TARGET}),
        ("search", "search", search, {"search_api_over_raw": SEARCH_TARGET}),
    )
    for name, route, take_figure, targets in figures:
        why = bench.missing(route)
        if why is None:
            bench.fresh_token()
            try:
                take_figure()
            except BenchError as exc:
                why = str(exc)
        if why is not None:
            bench.skipped(name, why)
            for check_name, target in targets.items():
                checks[check_name] = check(None, target, skipped=why)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=5000, help="units of the synthetic municipality")
    parser.add_argument("--users", type=int, default=50000, help="users of the synthetic municipality")
    parser.add_argument("--years", type=int, default=10, help="years of history")
    parser.add_argument("--as-of-years", type=int, default=3, help="the past date read: this many years back")
    parser.add_argument("--batch", type=int, default=500, help="records per committed batch of the bulk load")
    parser.add_argument("--sequential-indexing", action="store_true",
                        help="drain the search outbox only after the bulk load, instead of alongside it")
    parser.add_argument("--iterations", type=int, default=1000, help="timed unit reads and searches")
    parser.add_argument("--warmup", type=int, default=100, help="untimed unit reads and searches first")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the iterations are split into")
    parser.add_argument("--hierarchy-iterations", type=int, default=20,
                        help="timed hierarchy walks (and three times as many function-history reads)")
    parser.add_argument("--think-ms", type=float, default=5.0,
                        help="pause before each timed search query (API and raw alike); 0 sends them back to back")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic organisation and the samples")
    args = parser.parse_args(argv)
    try:
        urls = services.start()
    except services.ServiceError as exc:
        log(f"error: {exc}")
        return 1

    def emit(line: dict) -> None:
        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)

    run(urls, emit, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

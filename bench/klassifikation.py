"""What Klassifikation costs: the KLE import, reads as of a past point, a whole facet, search.

Measured on a synthetic KLE subject plan of realistic size
(`classification.kle_synthetic.synthetic_emneplan`: 2,500 classes, 6,125
search words, editions 0..4 imported in order, each a few classes different
from the one before), in one run, against reference figures for the raw
engine taken on the same machine in the same run:

    kle_import        per edition: parse + import into the store in one
                      transaction (the CLI's path, without the progress bar),
                      with created/changed/unchanged counts
    klasse_search     per edition: draining the search outbox until the new
                      state is searchable (only if Klassifikation registers a
                      search index of kind "klasse"; else one skipped line)
    by_code_now       classification.service.by_code(code) on a held
                      connection, random codes, as the API calls it for "now"
    by_code_as_of     the same codes as valid on edition 1's date and as
                      registered right after edition 1 was imported
    by_code_*_custom_plan
                      the same on a connection with plan_cache_mode =
                      force_custom_plan: what the lookups cost when
                      PostgreSQL does not switch them to a generic plan
                      (see `Bench.held`)
    facet_api         GET /api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes
                      ?limit=500&valid_at=<edition 1's date>, following
                      next_cursor to the end, with a system token
    facet_service     service.facet_classes at the same point on a held
                      connection: the API without HTTP, schema and paging
                      (and facet_service_custom_plan, as for by_code)
    facet_raw_sql     one SQL query returning the same classes' fields at the
                      same point, fetched on a held connection
    search_api / search_raw
                      a class search (a random search word, the KLE
                      facet, 20 hits) through GET /api/v1/klassifikation/
                      search and the same Elasticsearch query sent raw
                      (classification.search_query.query_body); only if the
                      route exists, else one skipped line.  Each query is
                      sent after a pause (--think-ms, 5 ms by default), as
                      a client with anything to do between queries sends
                      them: back to back, Elasticsearch's search threads
                      never go idle and the raw query looks about 0.7 ms
                      cheaper than any query that follows other work.
                      search_api_hot / search_raw_hot are the same without
                      the pause, printed for comparison.

One JSON line per figure, then a summary with each check, its target and
whether it is met: edition 0 import plus searchable under 15 s, by_code as
of / now at most 1.2, facet API / raw SQL at most 2, search API / raw at
most 1.5.  The script always exits 0 when it could run: targets are to be
read, not a gate.

    .venv/bin/python -m bench.klassifikation [--iterations N] [--facet-iterations N] [--profile]

It makes a scratch database `sts_bench_<pid>` from the migrations and an
index prefix `bench_<pid>_`, and drops both afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from psycopg import sql
from psycopg.rows import tuple_row

from app.bitemporal.periods import local_midnight
from app.search import index_kinds
from app.search.indexer import drain
from bench.authz import measure
from bench.scratch import log, scratch_app
from classification import service
from classification.kle_import import import_edition
from classification.kle_parser import KleEdition, parse_kle
from classification.kle_synthetic import EDITIONS, synthetic_emneplan
from classification.model import KLASSE, KLE_EMNEPLAN
from scripts import services
from tests.world import World, bearer

IMPORT_TARGET_S = 15.0
BY_CODE_TARGET = 1.2
FACET_TARGET = 2.0
SEARCH_TARGET = 1.5
AS_OF_EDITION = 1  # by_code and the facet are read as valid on this edition's date
FACET_URL = f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes"
SEARCH_LIMIT = 20
MUNICIPALITY = 751  # the bench system's agreement and token

Emit = Callable[[dict], None]

# Every class of the facet with its fields at (v, r), as the API answers it to a system of
# municipality 751: the facet-membership facts at that point, the class's owner (national or this
# municipality's), its registration at r (deleted classes left out) and all its facts at (v, r).
# The same rows service.facet_classes reads with five queries, in one.
FACET_RAW_SQL = """
    SELECT m.uuid, o.municipality_code, g.no, g.lifecycle, f.field, f.value
      FROM klasse_fact m
      JOIN klasse o ON o.uuid = m.uuid AND (o.municipality_code IS NULL OR o.municipality_code = %(municipality)s)
      JOIN klasse_registration g ON g.uuid = m.uuid AND g.period @> %(r)s AND g.lifecycle <> 'Slettet'
      JOIN klasse_fact f ON f.uuid = m.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
     WHERE m.field = 'facet' AND m.value #>> '{}' = %(facet)s AND m.registration @> %(r)s AND m.valid @> %(v)s
     ORDER BY m.uuid, f.field, f.key
"""


def timing(name: str, ns: list[int], unit: str = "us", **extra) -> dict:
    """Median and p95 of nanosecond samples in µs or ms, as one figure line."""
    scale = 1000 if unit == "us" else 1_000_000
    p95 = statistics.quantiles(ns, n=20)[-1] if len(ns) > 1 else ns[0]
    return {"name": name, f"median_{unit}": round(statistics.median(ns) / scale, 1),
            f"p95_{unit}": round(p95 / scale, 1), "iterations": len(ns), **extra}


def check(value: float | None, target: float, *, skipped: str | None = None, **extra) -> dict:
    """One line of the summary: the figure, its target and whether it is met (None when skipped)."""
    if value is None:
        return {"value": None, "target": target, "ok": None, "skipped": skipped, **extra}
    return {"value": round(value, 2), "target": target, "ok": value <= target, **extra}


def _assemble(rows: list[tuple]) -> dict[str, dict]:
    """Raw rows (uuid, municipality_code, no, lifecycle, field, value) as objects, as the store assembles them."""
    out: dict[str, dict] = {}
    for uuid, municipality_code, no, lifecycle, name, value in rows:
        obj = out.get(str(uuid))
        if obj is None:
            obj = out[str(uuid)] = {"uuid": str(uuid), "municipality_code": municipality_code,
                                    "registration_no": no, "lifecycle": lifecycle}
            for spec in KLASSE.fields:
                obj[spec.name] = [] if spec.many else None
        spec = KLASSE.by_name.get(name)
        if spec is not None and spec.many:
            obj[name].append(value)
        elif spec is not None:
            obj[name] = value
    return out


def valid_codes(edition: KleEdition, at) -> set[str]:
    """Codes of the classes of `edition` that are valid at instant `at`."""
    return {c.code for c in edition.classes
            if (c.created is None or local_midnight(c.created) <= at)
            and all(end is None or at < local_midnight(end) for end in (c.retired, c.moved))}


class Bench:
    """One scratch database with the KLE editions imported, and the figures taken on it."""

    def __init__(self, app, token: str, emit: Emit, *, profile: bool):
        self.app, self.emit, self.profile = app, emit, profile
        self.client = app.test_client()
        self.headers = bearer(token)
        self.db = app.extensions["sts.db"]
        self.search = app.extensions["sts.search"]
        self.searchable = "klasse" in index_kinds()
        self.editions: list[KleEdition] = []
        self.registered_after: list[datetime] = []
        self.imports: list[dict] = []
        self.drains: list[dict] = []

    # -- 1. import -------------------------------------------------------------------------------------

    def import_all(self, count: int, seed: int) -> None:
        """Import editions 0..count-1 in order, timing each (and the drain that makes it searchable).

        The files are generated first, untimed; the instant after each commit is kept, so that
        reads can ask "as registered right after edition N".
        """
        files = [synthetic_emneplan(edition=e, seed=seed) for e in range(count)]
        if self.searchable:  # deliver the seed data's outbox first, so the timed drains are KLE only
            with self.app.app_context():
                self.search.ensure_indexes()
                drain(self.db, self.search, refresh=True)
        else:
            self.emit({"name": "klasse_search", "skipped": "no search index yet",
                       "detail": f"no IndexSpec of kind 'klasse' registered (kinds: {', '.join(index_kinds())})"})
        for e, data in enumerate(files):
            log(f"importing edition {e} ({len(data):,} bytes)")
            profiler = cProfile.Profile() if self.profile else None
            t0 = time.perf_counter()
            with contextlib.ExitStack() as stack:
                if profiler:
                    stack.enter_context(profiler)
                edition = parse_kle(data)
                t1 = time.perf_counter()
                with self.app.app_context(), self.db.transaction() as conn:
                    result = import_edition(conn, edition, actor="bench.klassifikation")
            t2 = time.perf_counter()
            with self.db.transaction() as conn:
                self.registered_after.append(conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"])
            self.editions.append(edition)
            line = {"name": "kle_import", "edition": e, "published": str(edition.published),
                    "classes": len(edition.classes), "parse_s": round(t1 - t0, 3), "import_s": round(t2 - t1, 3),
                    "total_s": round(t2 - t0, 3), "created": result.created, "changed": result.changed,
                    "unchanged": result.unchanged, "retired": result.retired, "moved": result.moved}
            if profiler:
                line["profiled"] = True
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue(), file=sys.stderr, flush=True)
            self.imports.append(line)
            self.emit(line)
            if self.searchable:
                with self.app.app_context():
                    t3 = time.perf_counter()
                    delivered = drain(self.db, self.search, refresh=True)
                    seconds = time.perf_counter() - t3
                drained = {"name": "klasse_search", "edition": e, "drain_s": round(seconds, 3),
                           "delivered": delivered}
                self.drains.append(drained)
                self.emit(drained)
        # What autovacuum would do shortly after a bulk import; done now so the read plans are stable.
        with self.db.transaction() as conn:
            for table in ("klasse", "klasse_registration", "klasse_fact"):
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))

    # -- held connections ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def held(self, *, custom_plans: bool = False):
        """A pool connection in autocommit, as the app's; with `custom_plans`, planned for every execution.

        psycopg prepares a statement on its 5th execution and PostgreSQL may then switch it to a
        generic plan (one made without the parameters' values).  For the range-containment
        queries of the store the generic plan can be far slower, so the figures taken with
        `plan_cache_mode = force_custom_plan` show what the same code costs without that switch.
        """
        conn = self.db.pool.getconn()
        conn.autocommit = True
        try:
            if custom_plans:
                conn.execute("SET plan_cache_mode = force_custom_plan")
            yield conn
        finally:
            if custom_plans:
                conn.execute("RESET plan_cache_mode")
            conn.autocommit = False
            self.db.pool.putconn(conn)

    # -- 2. a class by code, now and as of ----------------------------------------------------------------

    def by_code(self, *, iterations: int, warmup: int, rounds: int, seed: int) -> list[dict]:
        """A class by code now and as of (edition 1's date, registered after edition 1), interleaved.

        Codes are drawn from those valid at both points, so every lookup finds its class
        (`misses` counts the ones that did not) and both sides do the same work.
        """
        v = local_midnight(self.editions[AS_OF_EDITION].published)
        r = self.registered_after[AS_OF_EDITION]
        now = datetime.now(UTC)
        codes = sorted(valid_codes(self.editions[AS_OF_EDITION], v) & valid_codes(self.editions[-1], now))
        rng = random.Random(seed)
        sequence = [rng.choice(codes) for _ in range(iterations + warmup + rounds)]
        misses: dict[str, int] = {}

        def timer(key: str, conn, **point) -> Callable[[], int]:
            position = itertools.count()
            misses[key] = 0

            def one() -> int:
                code = sequence[next(position) % len(sequence)]
                t0 = time.perf_counter_ns()
                found = service.by_code(conn, KLE_EMNEPLAN, code, **point)
                t1 = time.perf_counter_ns()
                misses[key] += found is None
                return t1 - t0
            return one

        with self.held() as conn, self.held(custom_plans=True) as custom:
            log(f"by_code: {iterations} iterations now and as of, over {len(codes)} codes")
            samples = measure({"by_code_now": timer("by_code_now", conn),
                               "by_code_as_of": timer("by_code_as_of", conn, valid_at=v, registered_at=r),
                               "by_code_now_custom_plan": timer("by_code_now_custom_plan", custom),
                               "by_code_as_of_custom_plan": timer("by_code_as_of_custom_plan", custom, valid_at=v,
                                                                  registered_at=r)},
                              iterations=iterations, warmup=warmup, rounds=rounds)
        point = {"valid_at": v.isoformat(), "registered_at": r.isoformat()}
        return [timing(name, ns, misses=misses[name], **(point if "as_of" in name else {}))
                for name, ns in samples.items()]

    # -- 3. the whole facet -------------------------------------------------------------------------------

    def facet(self, *, iterations: int, warmup: int) -> list[dict]:
        """The whole subject plan as valid on edition 1's date: API walk, service call, raw SQL."""
        day = self.editions[AS_OF_EDITION].published
        v = local_midnight(day)
        pages = []
        api_items: list[dict] = []
        raw_rows: list[tuple] = []

        def api() -> int:
            items, cursor, n = [], None, 0
            t0 = time.perf_counter_ns()
            while True:
                url = f"{FACET_URL}?limit=500&valid_at={day.isoformat()}" + (f"&cursor={cursor}" if cursor else "")
                body = self.client.get(url, headers=self.headers).get_json()
                items += body["items"]
                n += 1
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            t1 = time.perf_counter_ns()
            pages.append(n)
            api_items[:] = items
            return t1 - t0

        def service_read(conn) -> Callable[[], int]:
            def one() -> int:
                t0 = time.perf_counter_ns()
                service.facet_classes(conn, KLE_EMNEPLAN, valid_at=v)
                return time.perf_counter_ns() - t0
            return one

        def raw(conn) -> Callable[[], int]:
            def one() -> int:
                t0 = time.perf_counter_ns()
                # prepare=False: planned with the values every time (see `held`), the engine at its best.
                with conn.cursor(row_factory=tuple_row) as cur:
                    rows = cur.execute(FACET_RAW_SQL, {"facet": KLE_EMNEPLAN, "v": v, "r": datetime.now(UTC),
                                                        "municipality": MUNICIPALITY},
                                       prepare=False).fetchall()
                t1 = time.perf_counter_ns()
                raw_rows[:] = rows
                return t1 - t0
            return one

        with self.held() as conn, self.held(custom_plans=True) as custom:
            log(f"facet: {iterations} walks through the API, the service and the raw SQL")
            samples = measure({"facet_api": api, "facet_service": service_read(conn),
                               "facet_service_custom_plan": service_read(custom), "facet_raw_sql": raw(conn)},
                              iterations=iterations, warmup=warmup, rounds=iterations)
        # Untimed: the raw query must answer what the API answers, or the ratio means nothing.
        raw_objects = _assemble(raw_rows)
        same = (len(raw_objects) == len(api_items)
                and all({k: raw_objects.get(x["uuid"], {}).get(k) for k in x} == x for x in api_items))
        return [timing("facet_api", samples["facet_api"], "ms", classes=len(api_items), pages=max(pages),
                       valid_at=day.isoformat()),
                timing("facet_service", samples["facet_service"], "ms"),
                timing("facet_service_custom_plan", samples["facet_service_custom_plan"], "ms"),
                timing("facet_raw_sql", samples["facet_raw_sql"], "ms", rows=len(raw_rows),
                       classes=len(raw_objects), same_as_api=same)]

    # -- 4. search ----------------------------------------------------------------------------------------

    def search_route(self) -> str | None:
        """The class search route, or None."""
        for rule in self.app.url_map.iter_rules():
            if rule.rule.startswith("/api/v1/klassifikation") and "search" in rule.rule and not rule.arguments \
                    and "GET" in (rule.methods or ()):
                return rule.rule
        return None

    def search_figures(self, *, iterations: int, warmup: int, rounds: int, seed: int,
                       think_ms: float) -> list[dict] | str:
        """search_api and search_raw, or why they were skipped."""
        url = self.search_route()
        if url is None:
            return "no search route under /api/v1/klassifikation yet"
        if not self.searchable:
            return f"{url} exists but no search index of kind 'klasse' is registered"
        try:
            from classification.search_query import query_body
        except ImportError:
            return f"{url} exists but classification.search_query.query_body (the query it sends) does not"
        words = sorted({w for c in self.editions[-1].classes for w in c.search_words})
        rng = random.Random(seed)
        sequence = [rng.choice(words) for _ in range(iterations + warmup + rounds)]
        statuses: dict[int, int] = {}
        hits: dict[str, int] = {"api": 0, "raw": 0}

        def api(think: float) -> Callable[[], int]:
            position = itertools.count()

            def one() -> int:
                word = sequence[next(position) % len(sequence)]
                if think:
                    time.sleep(think)
                t0 = time.perf_counter_ns()
                r = self.client.get(url, query_string={"q": word, "facet": KLE_EMNEPLAN, "limit": SEARCH_LIMIT},
                                    headers=self.headers)
                t1 = time.perf_counter_ns()
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
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
                # The arguments the route passes for this token (municipality: its visibility filter).
                body = query_body({"q": word, "facet": KLE_EMNEPLAN, "limit": SEARCH_LIMIT, "published": "Publiceret",
                                   "municipality": MUNICIPALITY})
                result = self.search.search("klasse", **body, size=SEARCH_LIMIT + 1)
                t1 = time.perf_counter_ns()
                hits["raw"] += bool(result["hits"]["hits"])
                return t1 - t0
            return one

        log(f"search: {iterations} queries through {url} and raw")
        think = think_ms / 1000
        samples = measure({"api": api(think), "raw": raw(think), "api_hot": api(0), "raw_hot": raw(0)},
                          iterations=iterations, warmup=warmup, rounds=rounds)
        return [timing("search_api", samples["api"], route=url, think_ms=think_ms, statuses=statuses,
                       with_hits=hits["api"]),
                timing("search_raw", samples["raw"], query="classification.search_query.query_body, same arguments",
                       think_ms=think_ms, with_hits=hits["raw"]),
                timing("search_api_hot", samples["api_hot"], think_ms=0),
                timing("search_raw_hot", samples["raw_hot"], think_ms=0)]


def run(urls: dict[str, str], emit: Emit, *, editions: int, iterations: int, warmup: int, rounds: int,
        facet_iterations: int, seed: int, profile: bool, think_ms: float) -> None:
    with scratch_app(urls) as app:
        with app.extensions["sts.db"].transaction() as conn:
            server_version = conn.info.server_version
        world = World(app)
        world.vendor("Bench vendor")
        world.system("bench-system", "Bench vendor")
        world.agreement("bench-system", "klassifikation", MUNICIPALITY, roles=("read",))
        bench = Bench(app, world.token("bench-system", "klassifikation", MUNICIPALITY), emit, profile=profile)
        bench.import_all(editions, seed)
        figures = bench.by_code(iterations=iterations, warmup=warmup, rounds=rounds, seed=seed)
        figures += bench.facet(iterations=facet_iterations, warmup=1)
        for line in figures:
            emit(line)
        searched = bench.search_figures(iterations=iterations, warmup=warmup, rounds=rounds, seed=seed,
                                        think_ms=think_ms)
        if isinstance(searched, str):
            emit({"name": "search", "skipped": searched})
        else:
            for line in searched:
                emit(line)

    first = bench.imports[0]
    searchable_s = bench.drains[0]["drain_s"] if bench.drains else None
    import_check = check(first["total_s"] + (searchable_s or 0), IMPORT_TARGET_S, import_s=first["total_s"],
                         searchable_s=searchable_s, later_editions_s=[x["total_s"] for x in bench.imports[1:]])
    if searchable_s is None:
        import_check["note"] = "import only: no search index for classes yet"
    by_name = {line["name"]: line for line in figures}
    search_check = check(None, SEARCH_TARGET, skipped=searched) if isinstance(searched, str) else check(
        searched[0]["median_us"] / searched[1]["median_us"], SEARCH_TARGET,
        hot=round(searched[2]["median_us"] / searched[3]["median_us"], 2))
    major, minor = divmod(server_version, 10000)

    def ratio(a: str, b: str) -> float:
        unit = "median_us" if "median_us" in by_name[a] else "median_ms"
        return by_name[a][unit] / by_name[b][unit]

    emit({"name": "summary",
          "import_edition0_searchable_s": import_check,
          "by_code_as_of_over_now": check(ratio("by_code_as_of", "by_code_now"), BY_CODE_TARGET),
          "by_code_as_of_over_now_custom_plan": check(
              ratio("by_code_as_of_custom_plan", "by_code_now_custom_plan"), BY_CODE_TARGET),
          "facet_api_over_raw_sql": check(ratio("facet_api", "facet_raw_sql"), FACET_TARGET),
          "search_api_over_raw": search_check,
          "cpus": os.cpu_count(), "python": platform.python_version(), "postgres": f"{major}.{minor}",
          "loadavg": [round(x, 2) for x in os.getloadavg()]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--editions", type=int, default=EDITIONS, choices=range(1 + AS_OF_EDITION, EDITIONS + 1),
                        metavar=f"{1 + AS_OF_EDITION}..{EDITIONS}", help="editions to import (0..N-1)")
    parser.add_argument("--iterations", type=int, default=2000, help="timed iterations of by_code and search")
    parser.add_argument("--warmup", type=int, default=200, help="untimed iterations of by_code and search first")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the iterations are split into")
    parser.add_argument("--facet-iterations", type=int, default=10, help="timed walks through the whole facet")
    parser.add_argument("--think-ms", type=float, default=5.0,
                        help="pause before each timed search query (API and raw alike); 0 sends them back to back")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic KLE and the random codes")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each import (top functions to stderr); import times are then inflated")
    args = parser.parse_args(argv)
    try:
        urls = services.start()
    except services.ServiceError as exc:
        log(f"error: {exc}")
        return 1

    def emit(line: dict) -> None:
        print(json.dumps(line), flush=True)

    run(urls, emit, editions=args.editions, iterations=args.iterations, warmup=args.warmup, rounds=args.rounds,
        facet_iterations=args.facet_iterations, seed=args.seed, profile=args.profile,
        think_ms=args.think_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())

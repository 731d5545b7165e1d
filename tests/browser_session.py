"""One headless Chromium for the whole test run, shared by every browser-test module.

Each module that uses the admin web's fixtures re-binds them (tests/test_admin_browser.py), and
pytest makes a separate session-scoped fixture per module that binds one; a second
`sync_playwright()` in the same thread then fails ("Sync API inside the asyncio loop"). So the
fixture hands out this one browser, started on first use and stopped when the session ends
(tests/conftest.py `pytest_sessionfinish`).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from scripts.browser import CHROMIUM

_shared: dict[str, Playwright | Browser] = {}


def shared_browser() -> Browser:
    if "browser" not in _shared:
        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: run `make browser` (python -m scripts.browser)")
        playwright = sync_playwright().start()
        _shared["playwright"] = playwright
        _shared["browser"] = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    return _shared["browser"]  # type: ignore[return-value]


def close_shared_browser() -> None:
    if "browser" in _shared:
        _shared.pop("browser").close()  # type: ignore[union-attr]
        _shared.pop("playwright").stop()  # type: ignore[union-attr]

"""Structured JSON logs on stderr, each line carrying the request id.

The request id comes from the caller's `X-Request-ID` header when it is a
sane token (so a load balancer's id follows the request), otherwise a new
UUID; it is returned in the `X-Request-ID` response header and included in
every problem answer, so a user's report leads straight to the log lines.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = logging.getLogger("sts.access")


def _install_record_factory() -> None:
    """Stamp every log record made during a request with its request id."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_sts", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return record

    factory._sts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str) -> None:
    """Install the JSON handler on the root logger once per process."""
    _install_record_factory()
    root = logging.getLogger()
    root.setLevel(level)
    if any(getattr(h, "_sts_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._sts_json = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    ))
    root.addHandler(handler)
    # One line per Elasticsearch call is noise; failures still surface as warnings.
    logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)


def _begin() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_ID.match(incoming) else str(uuid.uuid4())
    g.request_started = time.perf_counter()


def _end(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    started = g.get("request_started")
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        },
    )
    return response


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_begin)
    app.after_request(_end)

"""Structured JSON logs carry the request id returned to the caller."""

import json
import logging

from pythonjsonlogger.json import JsonFormatter


def test_access_log_line_carries_the_request_id(shared_client, caplog):
    caplog.set_level(logging.INFO, logger="sts.access")
    r = shared_client.get("/api/v1/municipalities/101")
    [record] = [rec for rec in caplog.records if rec.name == "sts.access"]
    assert record.request_id == r.headers["X-Request-ID"]
    assert record.status == 200 and record.path == "/api/v1/municipalities/101"


def test_the_process_handler_writes_json():
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_sts_json", False)]
    assert isinstance(handler.formatter, JsonFormatter)
    record = logging.LogRecord("sts.test", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    line = json.loads(handler.formatter.format(record))
    assert line["message"] == "hello" and line["request_id"] == "abc" and line["level"] == "INFO"

"""The API as the HTTP server runs it (`make run`, bench/): `granian --factory app.wsgi:create_worker_app`.

granian calls this once in every worker process.  Everything the app builds at start-up (schemas,
routes, the OpenAPI document) lives as long as the worker; freezing it (app/startup.py) keeps the
garbage collector's full passes to what requests allocate, which shortens the pauses that show in
the slowest answers.
"""

from __future__ import annotations

from flask import Flask

from app import create_app
from app.startup import freeze_startup_objects


def create_worker_app() -> Flask:
    app = create_app()
    freeze_startup_objects()
    return app

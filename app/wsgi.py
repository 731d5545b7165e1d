"""The API as the HTTP server runs it (`make run`, bench/): `granian --factory app.wsgi:create_worker_app`.

granian calls this once in every worker process.  Everything the app builds at start-up (schemas,
routes, the OpenAPI document) lives as long as the worker; freezing it keeps the garbage collector's
full passes to what requests allocate, which shortens the pauses that show in the slowest answers
(a full pass over the start-up objects alone takes about 86 ms).
"""

from __future__ import annotations

import gc

from flask import Flask

from app import create_app


def create_worker_app() -> Flask:
    app = create_app()
    gc.collect()
    gc.freeze()
    return app

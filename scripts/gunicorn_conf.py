"""gunicorn settings for `make run` (see scripts/app.py)."""

import gc
import os

from prometheus_client import multiprocess

bind = os.environ.get("STS_APP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("STS_APP_WORKERS", "2"))
threads = int(os.environ.get("STS_APP_THREADS", "4"))
timeout = 60
graceful_timeout = 20
capture_output = True


def child_exit(server, worker):
    # Drop the dead worker's live gauges from the multiprocess metrics.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Everything the app built at start-up (schemas, routes, the OpenAPI document) lives as long as
    # the worker: freezing it keeps the collector's full passes to what requests allocate, which
    # shortens the pauses that show in the slowest answers.
    gc.freeze()

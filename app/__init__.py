"""The application factory: it only wires named steps together.

    create_app(config=None)

`config` overrides the environment, which overrides the defaults
(app/config.py); the result is validated before anything starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import admin
import authz
import authz.openapi
import classification
import distribution
import indexes
import organisation
from app import api, db, errors, health, logs, metrics, migrate, search
from app.config import load_config
from app.demo import demo_cli
from app.json import OrjsonProvider
from app.search.cli import search_cli
from organisation import municipalities

# Each feature package registers its blueprint, CLI, search index and
# constraint rules in `init_app(app, api)`; `admin` (the admin web) registers
# a plain Flask blueprint, outside the OpenAPI document.
FEATURES = (authz, municipalities, classification, organisation, indexes, distribution, admin)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.update(load_config(config))
    # Order matters: request ids and timing first, so every later step can use them.
    logs.init_app(app)
    metrics.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    search.init_app(app)
    migrate.init_app(app)
    authz.install_enforcement(app)  # before the API's own request checks: authenticate first
    app.cli.add_command(search_cli)
    app.cli.add_command(demo_cli)
    flask_api = api.init_app(app)
    flask_api.register_blueprint(health.blp)
    for feature in FEATURES:
        feature.init_app(app, flask_api)
    authz.policy.check_routes(app)
    authz.openapi.document_security(app, flask_api)
    return app

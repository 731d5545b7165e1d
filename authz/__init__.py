"""Access control (Brugeradgangsstyring / Systemadgangsstyring).

- registry.py: vendors, IT systems and their credentials, platform users, catalogue
- agreements.py: service agreements and their history, notifications
- keys.py, tokens.py: signing keys (JWKS) and bearer tokens
- auth_api.py: the token endpoint, login, personal tokens, "me"
- policy.py: the one enforcement point every request passes
- access_log.py, access_log_api.py: the hash-chained access log (who read whose data)
- usage.py: calls counted per municipality, system, service, operation and day
See docs/security.md.
"""

from __future__ import annotations

from flask import Flask

from authz import access_log_api, agreements, auth_api, policy, privileges, privileges_api, registry, usage


def init_app(app: Flask, api) -> None:
    from authz.cli import authz_cli

    registry.register_constraints()
    agreements.register_constraints()
    privileges.register_constraints()
    api.register_blueprint(auth_api.blp, url_prefix="/api/v1/auth")
    api.register_blueprint(auth_api.jwks_blp, url_prefix="")
    api.register_blueprint(auth_api.me_blp, url_prefix="/api/v1/me")
    api.register_blueprint(registry.catalogue_blp, url_prefix="/api/v1/catalogue")
    api.register_blueprint(registry.blp, url_prefix="/api/v1")
    api.register_blueprint(agreements.blp, url_prefix="/api/v1/agreements")
    api.register_blueprint(agreements.notifications_blp, url_prefix="/api/v1/notifications")
    for blueprint in privileges_api.BLUEPRINTS:  # users' privileges (url prefixes set on the blueprints)
        api.register_blueprint(blueprint)
    api.register_blueprint(access_log_api.blp, url_prefix="/api/v1/access-log")
    api.register_blueprint(usage.blp, url_prefix="/api/v1/usage")
    usage.init_app(app)  # counts calls made with system tokens
    app.cli.add_command(authz_cli)


install_enforcement = policy.init_app

"""Access control (Brugeradgangsstyring / Systemadgangsstyring).

- registry.py: vendors, IT systems and their credentials, platform users, catalogue
- agreements.py: service agreements and their history, notifications
- keys.py, tokens.py: signing keys (JWKS) and bearer tokens
- auth_api.py: the token endpoint, login, personal tokens, "me"
- policy.py: the one enforcement point every request passes
See docs/security.md.
"""

from __future__ import annotations

from flask import Flask

from authz import agreements, auth_api, policy, registry


def init_app(app: Flask, api) -> None:
    from authz.cli import authz_cli

    registry.register_constraints()
    agreements.register_constraints()
    api.register_blueprint(auth_api.blp, url_prefix="/api/v1/auth")
    api.register_blueprint(auth_api.jwks_blp, url_prefix="")
    api.register_blueprint(auth_api.me_blp, url_prefix="/api/v1/me")
    api.register_blueprint(registry.catalogue_blp, url_prefix="/api/v1/catalogue")
    api.register_blueprint(registry.blp, url_prefix="/api/v1")
    api.register_blueprint(agreements.blp, url_prefix="/api/v1/agreements")
    api.register_blueprint(agreements.notifications_blp, url_prefix="/api/v1/notifications")
    app.cli.add_command(authz_cli)


install_enforcement = policy.init_app

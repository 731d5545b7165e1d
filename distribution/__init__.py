"""Distribution: the change feed of Organisation, Klassifikation and the indexes, and subscriptions
that pull it (docs/distribution.md).  Push delivery, business events and the scheduler come next."""


def init_app(app, api) -> None:
    from distribution.api import blp, register_constraints
    from distribution.cli import distribution_cli

    register_constraints()
    api.register_blueprint(blp, url_prefix="/api/v1/distribution")
    app.cli.add_command(distribution_cli)

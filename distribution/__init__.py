"""Distribution: the change feed of Organisation, Klassifikation and the indexes, and subscriptions
that pull it or have it pushed to them (docs/distribution.md).  Business events and the scheduler
come next."""


def init_app(app, api) -> None:
    from distribution import push_api  # noqa: F401 - its routes join the blueprint
    from distribution.api import blp, register_constraints
    from distribution.cli import distribution_cli
    from distribution.push import deliver_command

    register_constraints()
    api.register_blueprint(blp, url_prefix="/api/v1/distribution")
    distribution_cli.add_command(deliver_command)
    app.cli.add_command(distribution_cli)

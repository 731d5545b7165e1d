"""Distribution: the change feed of Organisation, Klassifikation and the indexes, business events,
and subscriptions that pull them or have them pushed (docs/distribution.md)."""


def init_app(app, api) -> None:
    # These modules add their routes to the blueprint when imported; each may set up more in init_app.
    from distribution import admin_api, messages_api, metrics, push_api, snapshot_api  # noqa: F401
    from distribution.api import blp, register_constraints
    from distribution.cli import distribution_cli, scheduler_cli
    from distribution.push import deliver_command

    register_constraints()
    for module in (messages_api, snapshot_api, metrics):
        module.init_app(app)
    api.register_blueprint(blp, url_prefix="/api/v1/distribution")
    distribution_cli.add_command(deliver_command)
    app.cli.add_command(distribution_cli)
    app.cli.add_command(scheduler_cli)

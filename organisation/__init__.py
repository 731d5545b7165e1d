"""Organisation: the municipality registry and each municipality's organisation
(units, users, persons, functions, IT systems) on the bitemporal store
(docs/organisation.md)."""


def init_app(app, api) -> None:
    """The Organisation API (objects, hierarchy reads, sync feed, search) and its CLI."""
    from app.search import register_index

    # These modules add their routes to the blueprint when imported (one line each).
    from organisation import changes_api, objects_api, reads_api, search_api, sync_api  # noqa: F401
    from organisation.api import blp
    from organisation.search import UNIT_SPEC, USER_SPEC

    register_index(UNIT_SPEC)
    register_index(USER_SPEC)
    api.register_blueprint(blp, url_prefix="/api/v1/organisation")

    from organisation.cli import organisation_cli

    app.cli.add_command(organisation_cli)

"""Organisation: the municipality registry and each municipality's organisation
(units, users, persons, functions, IT systems) on the bitemporal store
(docs/organisation.md)."""


def init_app(app, api) -> None:
    """The Organisation API (objects, hierarchy reads, sync feed, search) and its CLI."""
    # These modules add their routes to the blueprint when imported (one line each).
    from organisation.api import blp

    api.register_blueprint(blp, url_prefix="/api/v1/organisation")

"""Klassifikation: shared classifications, above all KLE (docs/bitemporal.md, docs/classifications.md)."""


def init_app(app, api) -> None:
    """The read, write, search and upload API, the KLE import and seed commands, the class index."""
    # These modules add their routes and commands to the blueprint and CLI group when imported.
    from app.search import register_index
    from classification import seed_cli, sortiments, systems_api, upload_api, upload_jobs_api, write_api  # noqa: F401
    from classification.api import blp
    from classification.cli import klassifikation_cli
    from classification.search import SPEC

    register_index(SPEC)
    api.register_blueprint(blp, url_prefix="/api/v1/klassifikation")
    app.cli.add_command(klassifikation_cli)

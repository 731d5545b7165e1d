"""Klassifikation: shared classifications, above all KLE (parsing of KL's files lives here)."""


def init_app(app, api) -> None:
    """Klassifikation: the KLE import command and the read API."""
    from app.search import register_index
    from classification.api import blp
    from classification.cli import klassifikation_cli
    from classification.search import SPEC

    register_index(SPEC)

    api.register_blueprint(blp, url_prefix="/api/v1/klassifikation")
    app.cli.add_command(klassifikation_cli)

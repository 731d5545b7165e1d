"""Klassifikation: shared classifications, above all KLE (parsing of KL's files lives here)."""


def init_app(app, api) -> None:
    """Klassifikation: today the KLE import command; the API follows."""
    from classification.cli import klassifikation_cli

    app.cli.add_command(klassifikation_cli)

"""Placeholder: filled in by the metrics slice."""


def init_app(app) -> None:
    """Nothing yet."""

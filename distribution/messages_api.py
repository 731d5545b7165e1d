"""Placeholder: filled in by the messages_api slice."""


def init_app(app) -> None:
    """Nothing yet."""

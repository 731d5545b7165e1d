"""Placeholder: filled in by the snapshot_api slice."""


def init_app(app) -> None:
    """Nothing yet."""

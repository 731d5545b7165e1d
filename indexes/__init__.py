"""Case and document index (sdi) and benefit index (yi): docs/indexes.md.

Fagsystemer push case, document, grant and payment metadata (never content); readers ask for
everything about a citizen or company, filtered in the query by what they may see.  PostgreSQL
holds the records and their registration history (indexes/service.py); Elasticsearch holds one
derived index for the overviews and search (indexes/search.py), fed by the outbox.
"""


def init_app(app, api) -> None:
    """Both services' routes, the search index and the CLI."""
    from app.db import register_constraint
    from app.search import register_index

    # These modules add their routes to the blueprints when imported.
    from indexes import reads_api, writes_api  # noqa: F401
    from indexes.api import SERVICES
    from indexes.batch_sql import repath
    from indexes.cli import indexes_cli
    from indexes.search import SPEC
    from organisation.unit_paths import MOVE_LISTENERS

    register_index(SPEC)
    register_constraint("index_object_pkey", code="concurrent_write", field="uuid",
                        detail="Another write of this UUID committed first; send the record again.")
    register_constraint("index_object_case_number", code="case_number_taken", field="case_number",
                        detail="Another case of this municipality has this case number.")
    if repath not in MOVE_LISTENERS:
        MOVE_LISTENERS.append(repath)
    for svc in SERVICES:
        api.register_blueprint(svc.blp, url_prefix=f"/api/v1/{svc.code}")
    app.cli.add_command(indexes_cli)

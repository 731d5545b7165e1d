"""The OpenAPI document is valid OpenAPI 3 and documents every route; Swagger UI renders."""

import re

from openapi_spec_validator import validate

NOT_API = {"static", "swagger_assets.static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}


def test_openapi_document_is_valid(shared_client):
    r = shared_client.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_route_is_documented_with_a_description(shared_app, shared_client):
    spec = shared_client.get("/api/openapi.json").get_json()
    for rule in shared_app.url_map.iter_rules():
        if rule.endpoint in NOT_API or rule.endpoint.startswith("admin."):
            continue  # the admin web's pages (docs/admin.md) are HTML, outside the API's document
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], f"{rule.rule} is not in the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path].get(method.lower())
            assert operation, f"{method} {rule.rule} is not documented"
            assert operation.get("summary"), f"{method} {rule.rule} has no description"


def test_swagger_ui_renders_from_local_assets(shared_client):
    page = shared_client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/api/docs/static/"), f"{asset} would be fetched from outside"
        with shared_client.get(asset) as r:
            assert r.status_code == 200


def test_every_operation_states_its_security(shared_app, shared_client):
    spec = shared_client.get("/api/openapi.json").get_json()
    assert set(spec["components"]["securitySchemes"]) == {"systemToken", "platformToken"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # path parameters shared by the operations
                continue
            assert "security" in operation, f"{method} {path} does not state its security"
            if operation["security"]:
                assert "**Access:**" in operation["description"]
                assert {"401", "403"} <= set(operation["responses"])

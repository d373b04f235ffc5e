"""The OpenAPI document at /api/schema/ documents each operation's error answers with their
bodies (servicedesk.openapi), and tells the truth about bodies, lists and nulls."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer


@pytest.fixture(scope="module")
def schema():
    """The document as /api/schema/ serves it (tests/servicedesk/test_openapi_fuzz.py asks
    the live server for it); made once, it needs no database."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def test_the_schema_is_served(world, api):
    response = api(world.people[1]).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/v1/incidents/" in response.json()["paths"]


def _responses(schema, path, method):
    return schema["paths"][path][method]["responses"]


def _error_ref(schema, path, method, code):
    answer = _responses(schema, path, method)[code]
    assert answer["description"]
    return answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_an_incident_action_documents_its_body_and_every_error(schema):
    path, method = "/api/v1/incidents/{reference}/cancel/", "post"
    operation = schema["paths"][path][method]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ReasonRequest")
    codes = set(operation["responses"])
    assert codes == {"200", "400", "401", "403", "404", "409", "413", "415", "429", "503"}
    assert _error_ref(schema, path, method, "409") == "ConflictError"
    assert _error_ref(schema, path, method, "400") == "ValidationError"
    for code in ("401", "403", "404", "413", "415", "429", "503"):
        assert _error_ref(schema, path, method, code) == "Error"
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_a_read_documents_only_the_errors_it_can_answer(schema):
    assert set(_responses(schema, "/api/v1/incidents/", "get")) == {"200", "400", "401", "403", "429", "503"}
    assert set(_responses(schema, "/api/v1/incidents/{reference}/", "get")) == {"200", "401", "403", "404", "429", "503"}


def test_every_api_operation_documents_401_403_and_503(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "503"} <= codes, (method, path)
            if method in ("post", "put", "patch"):
                assert {"400", "409", "413", "415"} <= codes, (method, path)


def test_the_error_bodies_are_components(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert components["ConflictError"]["properties"]["status"] == {"type": "string"}
    assert len(components["ValidationError"]["anyOf"]) == 2


def test_lists_on_one_incident_are_plain_arrays_without_list_parameters(schema):
    operation = schema["paths"]["/api/v1/incidents/{reference}/timeline/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert [p["in"] for p in operation.get("parameters", [])] == ["path"]


def test_list_parameters_are_documented(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert parameters["ordering"]["schema"]["enum"] == [
        "created_at", "-created_at", "priority", "-priority", "resolve_due_at", "-resolve_due_at",
    ]  # fmt: skip
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert "cursor" in parameters
    assert parameters["warning"]["allowEmptyValue"] is True  # an empty filter is no filter
    assert "allowEmptyValue" not in parameters["page_size"]


def test_references_that_may_be_null_say_so(schema):
    incident = schema["components"]["schemas"]["Incident"]["properties"]
    assert incident["service"]["nullable"] and incident["team"]["nullable"] and incident["assignee"]["nullable"]
    assert not incident["reporter"].get("nullable")


def test_a_body_that_refuses_unknown_fields_says_so(schema):
    assert schema["components"]["schemas"]["EventRequest"]["additionalProperties"] is False


def test_watch_documents_what_delete_answers(schema):
    assert "200" in _responses(schema, "/api/v1/incidents/{reference}/watch/", "delete")

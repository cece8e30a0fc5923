"""schemathesis against schema/openapi.yaml and a running `loraplane up`.

Starts the real binary (LORAPLANE_BINARY) with instant simulated engines, creates a tenant and
one ready adapter, then lets schemathesis generate requests for every operation of the spec
(valid and invalid ones: the default generation modes) and sends them with a tenant API key
(with the admin token for /admin/*). Every answer must be a non-5xx whose status code, content
type, headers (Retry-After on 429/503) and body match the spec. A 503 counts as a server error
here too: `up` has every role ready, so nothing may be unavailable.

The number of examples per operation is bounded (LORAPLANE_FUZZ_EXAMPLES, default 100) so the
whole run stays within a few minutes on two cores; raise it for a longer hunt.
"""

import os
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from loraplane_up import Up, toy_adapter, upload_adapter, wait_status  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
ADMIN = "schemathesis-admin-token"
EXAMPLES = int(os.environ.get("LORAPLANE_FUZZ_EXAMPLES", "100"))

schema = schemathesis.openapi.from_path(os.path.join(ROOT, "schema", "openapi.yaml"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api():
    # Imports point at a closed port: a generated repo must fail fast, not reach the real hub.
    up = Up(ADMIN, "--sim-profile", "instant", env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    try:
        tenant = up.tenant("fuzzed")
        adapter = upload_adapter(up.port, tenant["api_key"], "fuzz-target", "toy-llama", toy_adapter())
        assert wait_status(up.port, tenant["api_key"], adapter["id"]) == "ready"
        yield up.port, tenant["api_key"]
    finally:
        up.stop()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_api(api, case):
    port, key = api
    token = ADMIN if case.path.startswith("/admin/") else key
    case.call_and_validate(base_url=f"http://127.0.0.1:{port}",
                           headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS, timeout=30)


def validated(port, token, path, method, **case):
    """One hand-written request through schemathesis, checked like the generated ones."""
    c = schema[path][method].Case(**case)
    res = c.call_and_validate(base_url=f"http://127.0.0.1:{port}",
                              headers={"Authorization": f"Bearer {token}"} if token else None,
                              checks=CHECKS, timeout=30)
    try:
        return res.status_code, res.json()
    except ValueError:
        return res.status_code, res.text


def test_every_documented_state_matches_the_spec(api):
    """Generated data rarely reaches the success paths (a valid base model, a ready adapter),
    so walk them here: each answer goes through the same checks."""
    port, key = api
    adapters = "/v1/adapters"
    status, created = validated(port, ADMIN, "/admin/v1/tenants", "POST",
                                body={"name": "walked", "tier": "reserved"})
    assert status == 201
    tenant_key = created["api_key"]
    assert validated(port, ADMIN, "/admin/v1/tenants", "POST",
                     body={"name": "walked", "tier": "reserved"})[0] == 409
    status, second = validated(port, ADMIN, "/admin/v1/tenants/{id}/keys", "POST",
                               path_parameters={"id": created["id"]})
    assert status == 201
    assert validated(port, ADMIN, "/admin/v1/keys/{prefix}", "DELETE",
                     path_parameters={"prefix": second["prefix"]})[0] == 200
    assert validated(port, ADMIN, "/admin/v1/engines", "GET")[0] == 200

    status, up_body = validated(port, tenant_key, "/v1/adapters/upload", "POST",
                                media_type="multipart/form-data",
                                body={"name": "walk-v1", "base_model": "toy-llama",
                                      "file": toy_adapter()})
    assert status == 202, up_body
    assert wait_status(port, tenant_key, up_body["id"]) == "ready"
    assert validated(port, tenant_key, "/v1/adapters/upload", "POST",
                     media_type="multipart/form-data",
                     body={"name": "walk-v1", "base_model": "toy-llama",
                           "file": toy_adapter()})[0] == 409
    assert validated(port, tenant_key, "/v1/adapters/upload", "POST",
                     media_type="multipart/form-data",
                     body={"name": "walk-bad", "base_model": "toy-llama",
                           "file": b"not a safetensors file"})[0] == 422
    # An import whose hub is unreachable: accepted, then failed with an error object.
    status, imported = validated(port, tenant_key, adapters, "POST",
                                 body={"name": "walk-hf", "base_model": "toy-llama",
                                       "repo": "org/walk-lora"})
    assert status == 202, imported
    assert wait_status(port, tenant_key, imported["id"]) == "failed"
    status, failed = validated(port, tenant_key, "/v1/adapters/{id}", "GET",
                               path_parameters={"id": imported["id"]})
    assert status == 200 and failed["error"]["message"]
    status, page = validated(port, tenant_key, adapters, "GET", query={"limit": 1})
    assert status == 200 and page["has_more"] is True
    assert validated(port, tenant_key, adapters, "GET",
                     query={"limit": 1, "after": page["data"][0]["id"]})[0] == 200
    status, models = validated(port, tenant_key, "/v1/models", "GET")
    assert "toy-llama:walk-v1" in [m["id"] for m in models["data"]]

    messages = [{"role": "user", "content": "hi"}]
    for stream in (False, True):
        status, _ = validated(port, tenant_key, "/v1/chat/completions", "POST",
                              body={"model": "toy-llama:walk-v1", "messages": messages,
                                    "max_tokens": 4, "stream": stream})
        assert status == 200
        status, _ = validated(port, tenant_key, "/v1/completions", "POST",
                              body={"model": "toy-llama:walk-v1", "prompt": "hi",
                                    "max_tokens": 4, "stream": stream})
        assert status == 200
    assert validated(port, tenant_key, "/v1/embeddings", "POST",
                     body={"model": "bge-m3:walk-v1", "input": "hi"})[0] == 400
    assert validated(port, tenant_key, "/v1/chat/completions", "POST",
                     body={"model": "toy-llama:walk-hf", "messages": messages})[0] in (404, 409)

    status, deleted = validated(port, tenant_key, "/v1/adapters/{id}", "DELETE",
                                path_parameters={"id": up_body["id"]})
    assert status == 200 and deleted["deleted"] is True
    assert validated(port, tenant_key, "/v1/adapters/{id}", "GET",
                     path_parameters={"id": up_body["id"]})[0] == 404
    assert validated(port, tenant_key, "/v1/adapters/{id}", "DELETE",
                     path_parameters={"id": up_body["id"]})[0] == 404
    assert validated(port, None, "/v1/models", "GET")[0] == 401

    status, gone = validated(port, ADMIN, "/admin/v1/tenants/{id}", "DELETE",
                             path_parameters={"id": created["id"]})
    assert status == 200 and gone["adapters_deleted"] == 1, gone  # walk-hf, failed
    assert validated(port, tenant_key, "/v1/models", "GET")[0] == 401
    assert validated(port, ADMIN, "/admin/v1/tenants/{id}", "DELETE",
                     path_parameters={"id": "ten_missing"})[0] == 404

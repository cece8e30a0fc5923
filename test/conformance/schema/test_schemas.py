"""Agreement between the C++ schema types and the contract files.

Runs the `schema_samples` tool (from $LORAPLANE_BUILD_DIR, default build/) and checks that
- every schema/json/*.schema.json is a valid JSON Schema 2020-12 and has a sample, and every
  sample has a schema;
- every sample the C++ serialiser writes validates against its schema;
- every invalid document the C++ parser refuses (invalid/index.json) is refused by the schema;
- schema/openapi.yaml is valid OpenAPI 3.1, covers the paths of ARCHITECTURE.md §5, references
  the JSON Schema files for its bodies, and gives every error status the Error body and 429/503
  a Retry-After header.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "schema" / "json"
OPENAPI = ROOT / "schema" / "openapi.yaml"
SCHEMA_NAMES = sorted(p.name[: -len(".schema.json")] for p in SCHEMA_DIR.glob("*.schema.json"))

# Paths and methods of the public API (ARCHITECTURE.md §5).
CONTRACT_PATHS = {
    "/healthz": {"get"},
    "/metrics": {"get"},
    "/admin/v1/tenants": {"post"},
    "/admin/v1/tenants/{id}/keys": {"post"},
    "/admin/v1/keys/{prefix}": {"delete"},
    "/admin/v1/engines": {"get"},
    "/v1/adapters": {"get", "post"},
    "/v1/adapters/upload": {"post"},
    "/v1/adapters/{id}": {"get", "delete"},
    "/v1/models": {"get"},
    "/v1/chat/completions": {"post"},
    "/v1/completions": {"post"},
}
# Kafka events are not HTTP bodies; every other schema must be used by the OpenAPI spec.
EVENT_SCHEMAS = {"TenantRecord", "ApiKeyRecord", "Job", "UploadChunkHeader", "AdapterState",
                 "LoadEvent", "Residency"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def build_dir() -> Path:
    path = Path(os.environ.get("LORAPLANE_BUILD_DIR", "build"))
    return path if path.is_absolute() else ROOT / path


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    tool = build_dir() / "bin" / "schema_samples"
    if not tool.exists():
        pytest.fail(f"{tool} not found: build it (cmake --build build --target schema_samples) "
                    "or set LORAPLANE_BUILD_DIR")
    out = tmp_path_factory.mktemp("samples")
    subprocess.run([str(tool), str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def registry() -> Registry:
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append((path.name, Resource.from_contents(contents, DRAFT202012)))
    return Registry().with_resources(resources)


def validator(name: str, registry: Registry) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return Draft202012Validator(schema, registry=registry)


def sample_schema(path: Path) -> str:
    return path.name.split(".", 1)[0]


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_schema_file_is_valid_2020_12(path):
    schema = json.loads(path.read_text())
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_schema_has_a_sample_and_every_sample_a_schema(samples):
    sampled = {sample_schema(p) for p in samples.glob("*.json")}
    assert sorted(set(SCHEMA_NAMES) - sampled) == [], "schemas without a C++ sample"
    assert sorted(sampled - set(SCHEMA_NAMES)) == [], "samples without a schema"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_samples_validate(name, samples, registry):
    files = sorted(p for p in samples.glob("*.json") if sample_schema(p) == name)
    assert files, f"no sample for {name}"
    check = validator(name, registry)
    for path in files:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in check.iter_errors(json.loads(path.read_text()))]
        assert errors == [], f"{path.name} does not match {name}.schema.json"


def test_invalid_documents_are_refused_by_the_schemas(samples, registry):
    index = json.loads((samples / "invalid" / "index.json").read_text())
    assert len(index) > 40
    accepted = []
    for case in index:
        document = json.loads((samples / "invalid" / case["file"]).read_text())
        if validator(case["schema"], registry).is_valid(document):
            accepted.append(f"{case['file']} ({case['path']}): C++ says {case['message']!r}")
    assert accepted == [], "the C++ parser refuses these, the schemas accept them"


def test_event_schemas_require_version_1():
    for name in EVENT_SCHEMAS:
        schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert "version" in schema["required"], name
        assert schema["properties"]["version"] == {"$ref": "common.defs.json#/$defs/version"}


# ---- OpenAPI -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def spec() -> dict:
    return yaml.safe_load(OPENAPI.read_text())


def test_openapi_is_valid_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate_openapi(spec, base_uri=OPENAPI.as_uri())  # follows ./json refs and checks them too


def test_openapi_covers_the_contract_paths(spec):
    for path, methods in CONTRACT_PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]) & HTTP_METHODS, path


def test_openapi_body_schemas_are_the_json_files(spec):
    refs = {name: s.get("$ref") for name, s in spec["components"]["schemas"].items()}
    for name in set(SCHEMA_NAMES) - EVENT_SCHEMAS:
        assert refs.get(name) == f"./json/{name}.schema.json", name


def local(spec: dict, node: dict) -> dict:
    """Follows '#/...' references inside the OpenAPI document."""
    while isinstance(node, dict) and node.get("$ref", "").startswith("#/"):
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_openapi_errors_use_the_error_body_and_retry_after(spec):
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            response = local(spec, response)
            where = f"{method.upper()} {path} {status}"
            if status in ("429", "503"):
                assert "Retry-After" in response.get("headers", {}), where
            if (status == "default" or int(status) >= 400) and path != "/healthz":
                assert response["content"]["application/json"]["schema"] == error_ref, where


def test_openapi_operations_have_a_default_error(spec):
    for path, method, op in operations(spec):
        if path not in ("/healthz", "/metrics"):
            assert "default" in op["responses"], f"{method.upper()} {path}"


def test_openapi_operations_are_secured(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == schemes["apiKey"] | {"type": "http", "scheme": "bearer"}
    assert schemes["adminToken"] == schemes["adminToken"] | {"type": "http", "scheme": "bearer"}
    for path, method, op in operations(spec):
        expected = ([] if path in ("/healthz", "/metrics") else
                    [{"adminToken": []}] if path.startswith("/admin/") else [{"apiKey": []}])
        assert op.get("security") == expected, f"{method.upper()} {path}"

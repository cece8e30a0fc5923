"""Tenant isolation and hostile clients against a running `loraplane up`.

Two tenants, `victim` and `mallory`, each with a ready adapter named `shared-name` on the same
base model; the victim also has `private-v1`. Mallory then tries every endpoint with the
victim's adapter ids, names, `base:name` models and forged ids; revoked keys and wrong admin
tokens are tried everywhere; names, repos and paths carry traversal attempts; headers and bodies
are oversized; uploads stall half-way. Every refusal must be the exact status and OpenAI error
body of the contract, indistinguishable from "does not exist", and afterwards the victim's
adapters must be untouched and still serve inference.

A third tenant is deleted (`DELETE /admin/v1/tenants/{id}`): its keys must be refused
everywhere, its adapter must leave the engines, and its name must come back as a new, empty
tenant.
"""

import json
import os
import re
import socket
import sys
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from loraplane_up import (  # noqa: E402
    BOUNDARY, Up, multipart, request, toy_adapter, upload, upload_adapter, wait_status)

ADMIN = "isolation-admin-token"
BASE = "toy-llama"
# The client timeout `up` runs with here, so that stalled clients are cut within the test.
CLIENT_TIMEOUT_S = 2
FORGED_ID = "adp_00000000000000000000000000"


@pytest.fixture(scope="module")
def env():
    up = Up(ADMIN, "--sim-profile", "instant", "--client-timeout", str(CLIENT_TIMEOUT_S),
            env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    try:
        victim = up.tenant("victim")
        mallory = up.tenant("mallory")
        v, m = victim["api_key"], mallory["api_key"]
        ids = {
            "v_shared": upload_adapter(up.port, v, "shared-name", BASE, toy_adapter())["id"],
            "v_private": upload_adapter(up.port, v, "private-v1", BASE, toy_adapter())["id"],
            "m_shared": upload_adapter(up.port, m, "shared-name", BASE, toy_adapter())["id"],
        }
        for key, adapter in ((v, ids["v_shared"]), (v, ids["v_private"]), (m, ids["m_shared"])):
            assert wait_status(up.port, key, adapter) == "ready"
        yield {"up": up, "port": up.port, "v": v, "m": m, "victim": victim,
               "mallory": mallory, **ids}
    finally:
        up.stop()


def chat(port, key, model, stream=False):
    return request(port, "POST", "/v1/chat/completions",
                   {"model": model, "max_tokens": 4, "stream": stream,
                    "messages": [{"role": "user", "content": "hi"}]}, key)


def engine_holds(port, adapter_id, tiers=("gpu", "cpu", "disk", "loading")):
    """The engines whose sets among `tiers` hold the adapter, per /admin/v1/engines."""
    status, fleet, _ = request(port, "GET", "/admin/v1/engines", token=ADMIN)
    assert status == 200, fleet
    lora = f"{BASE}:{adapter_id}"  # the engines' LoRA name
    return [e["id"] for e in fleet["data"] if any(lora in e[tier] for tier in tiers)]


def wait_resident(port, adapter_id, resident=True, timeout=30):
    """The engines holding the adapter once some hold it loaded (GPU or CPU, as an agent
    reported it: `loading` also shows the gateway's own ensures) or, with resident=False, once
    none holds it at all; or at the timeout. Residency reaches the gateway with each agent's
    next report, about every second."""
    tiers = ("gpu", "cpu") if resident else ("gpu", "cpu", "disk", "loading")
    deadline = time.time() + timeout
    holders = engine_holds(port, adapter_id, tiers)
    while bool(holders) != resident and time.time() < deadline:
        time.sleep(0.2)
        holders = engine_holds(port, adapter_id, tiers)
    return holders


def assert_error(status, body, want_status, code, param=None):
    assert status == want_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    if param is not None:
        assert err["param"] == param, err


def victim_intact(env):
    """The victim's adapters: listed, ready, and serving chat as `toy-llama:<name>`."""
    port, v = env["port"], env["v"]
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=v)
    assert status == 200
    names = {a["id"]: a["name"] for a in page["data"]}
    assert names.get(env["v_shared"]) == "shared-name"
    assert names.get(env["v_private"]) == "private-v1"
    for adapter_id in (env["v_shared"], env["v_private"]):
        status, body, _ = request(port, "GET", f"/v1/adapters/{adapter_id}", token=v)
        assert status == 200 and body["status"] == "ready", body
    for model in (f"{BASE}:shared-name", f"{BASE}:private-v1"):
        status, body, _ = chat(port, v, model)
        assert status == 200, body
        assert body["model"] == model


# --- cross-tenant reads, uses and deletes ------------------------------------------------------

def test_lists_and_models_show_only_the_callers_adapters(env):
    port = env["port"]
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=env["m"])
    assert status == 200
    assert [a["id"] for a in page["data"]] == [env["m_shared"]]
    status, models, _ = request(port, "GET", "/v1/models", token=env["m"])
    assert status == 200
    ids = {m["id"] for m in models["data"]}
    assert f"{BASE}:shared-name" in ids
    assert f"{BASE}:private-v1" not in ids
    body = json.dumps(models)
    for victim_id in (env["v_shared"], env["v_private"]):
        assert victim_id not in body


def test_another_tenants_id_answers_exactly_like_a_missing_one(env):
    port, m = env["port"], env["m"]
    missing = {}
    for method in ("GET", "DELETE"):
        status, body, _ = request(port, method, f"/v1/adapters/{FORGED_ID}", token=m)
        assert_error(status, body, 404, "adapter_not_found")
        missing[method] = body
    for victim_id in (env["v_shared"], env["v_private"]):
        for method in ("GET", "DELETE"):
            status, body, _ = request(port, method, f"/v1/adapters/{victim_id}", token=m)
            assert_error(status, body, 404, "adapter_not_found")
            assert body == missing[method]  # same words: existence does not leak


@pytest.mark.parametrize("path", [
    "/v1/adapters/{id}/", "/v1/adapters/{id}%00", "/v1/adapters/{id}?tenant=victim",
    "/v1/adapters/{mid}/../{id}", "/v1/adapters/..%2F{id}", "/v1/adapters/%61{idtail}",
])
def test_forged_paths_to_another_tenants_adapter(env, path):
    port, m = env["port"], env["m"]
    target = path.format(id=env["v_private"], mid=env["m_shared"], idtail=env["v_private"][1:])
    for method in ("GET", "DELETE"):
        status, body, _ = request(port, method, target, token=m)
        assert status == 404, (target, body)
        assert body["error"]["code"] in ("adapter_not_found", "not_found"), body


def test_pagination_cursor_of_another_tenant_reveals_nothing(env):
    port, m = env["port"], env["m"]
    for cursor in (env["v_private"], env["v_shared"]):
        status, page, _ = request(port, "GET", f"/v1/adapters?after={cursor}", token=m)
        assert status == 200, page
        assert env["v_private"] not in json.dumps(page)
        assert env["v_shared"] not in json.dumps(page)


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_another_tenants_names_and_ids_as_models(env, api):
    port, m = env["port"], env["m"]
    path = "/v1/chat/completions" if api == "chat" else "/v1/completions"

    def call_model(model):
        body = {"model": model, "max_tokens": 4}
        if api == "chat":
            body["messages"] = [{"role": "user", "content": "hi"}]
        else:
            body["prompt"] = "hi"
        return request(port, "POST", path, body, m)

    status, missing, _ = call_model(f"{BASE}:no-such-adapter")
    assert_error(status, missing, 404, "model_not_found", "model")
    for model in (f"{BASE}:private-v1",                       # the victim's name
                  f"{BASE}:{env['v_private']}",               # the victim's internal id
                  f"{BASE}:{env['v_shared']}",
                  f"{BASE}:{FORGED_ID}",
                  f"{BASE}:victim/private-v1", f"{BASE}:../private-v1",
                  f"{BASE}:private-v1:{env['v_private']}",
                  f"{env['victim']['id']}:private-v1",        # tenant id as the base
                  f"{BASE}:{env['victim']['id']}:private-v1"):
        status, body, _ = call_model(model)
        assert_error(status, body, 404, "model_not_found", "model")
        assert body["error"]["message"] == missing["error"]["message"].replace(
            f"{BASE}:no-such-adapter", model)


def test_same_name_resolves_to_each_tenants_own_adapter(env):
    port = env["port"]
    for key in (env["v"], env["m"]):
        status, body, _ = chat(port, key, f"{BASE}:shared-name")
        assert status == 200, body
        assert body["model"] == f"{BASE}:shared-name"
    # Each call loaded its own tenant's adapter: both ids become resident somewhere.
    assert wait_resident(port, env["v_shared"]) and wait_resident(port, env["m_shared"])


def test_a_name_taken_by_another_tenant_is_free(env):
    # A 409 here would tell mallory that the victim has an adapter of that name.
    port, m = env["port"], env["m"]
    created = upload_adapter(port, m, "private-v1", BASE, toy_adapter())
    assert wait_status(port, m, created["id"]) == "ready"
    status, body, _ = chat(port, m, f"{BASE}:private-v1")
    assert status == 200, body
    status, body, _ = request(port, "DELETE", f"/v1/adapters/{created['id']}", token=m)
    assert status == 200 and body == {"id": created["id"], "object": "adapter.deleted",
                                      "deleted": True}
    victim_intact(env)


# --- keys and admin tokens ---------------------------------------------------------------------

def every_tenant_call(env, key):
    """(label, status, body) for every tenant endpoint called with `key`."""
    port = env["port"]
    out = []
    calls = [
        ("GET", "/v1/adapters", None), ("GET", f"/v1/adapters/{env['v_private']}", None),
        ("DELETE", f"/v1/adapters/{env['v_private']}", None), ("GET", "/v1/models", None),
        ("POST", "/v1/adapters", {"name": "x", "base_model": BASE, "repo": "org/x"}),
        ("POST", "/v1/chat/completions",
         {"model": f"{BASE}:private-v1", "messages": [{"role": "user", "content": "hi"}]}),
        ("POST", "/v1/completions", {"model": f"{BASE}:private-v1", "prompt": "hi"}),
        ("POST", "/v1/embeddings", {"model": "bge-m3", "input": "hi"}),
    ]
    for method, path, body in calls:
        status, res, _ = request(port, method, path, body, key)
        out.append((f"{method} {path}", status, res))
    status, res, _ = upload(port, key, "x", BASE, toy_adapter())
    out.append(("POST /v1/adapters/upload", status, res))
    return out


def test_revoked_key_is_refused_everywhere(env):
    port = env["port"]
    status, extra, _ = request(port, "POST", f"/admin/v1/tenants/{env['victim']['id']}/keys",
                               token=ADMIN)
    assert status == 201, extra
    status, body, _ = request(port, "GET", "/v1/adapters", token=extra["api_key"])
    assert status == 200 and len(body["data"]) == 2
    status, body, _ = request(port, "DELETE", f"/admin/v1/keys/{extra['prefix']}", token=ADMIN)
    assert status == 200, body
    for label, status, res in every_tenant_call(env, extra["api_key"]):
        assert status == 401, label
        assert_error(status, res, 401, "invalid_api_key")
    victim_intact(env)


def test_deleted_tenant_keys_and_adapters_are_gone(env):
    port, up = env["port"], env["up"]
    doomed = up.tenant("doomed")
    first = doomed["api_key"]
    status, second, _ = request(port, "POST", f"/admin/v1/tenants/{doomed['id']}/keys",
                                token=ADMIN)
    assert status == 201, second
    adapter = upload_adapter(port, first, "shared-name", BASE, toy_adapter())["id"]
    assert wait_status(port, first, adapter) == "ready"
    status, body, _ = chat(port, second["api_key"], f"{BASE}:shared-name")
    assert status == 200, body
    assert wait_resident(port, adapter)

    status, body, _ = request(port, "DELETE", f"/admin/v1/tenants/{doomed['id']}", token=ADMIN)
    assert status == 200, body
    assert body == {"id": doomed["id"], "object": "tenant.deleted", "deleted": True,
                    "adapters_deleted": 1}
    for key in (first, second["api_key"]):
        for label, status, res in every_tenant_call(env, key):
            assert status == 401, label
            assert_error(status, res, 401, "invalid_api_key")
        status, res, _ = chat(port, key, f"{BASE}:shared-name", stream=True)
        assert_error(status, res, 401, "invalid_api_key")

    # Its adapter is deleted like any other: unloaded from every engine and its disk.
    assert wait_resident(port, adapter, resident=False) == []

    # Deleting again is a no-op that answers 200 (a safe retry); an unknown id is a 404.
    status, body, _ = request(port, "DELETE", f"/admin/v1/tenants/{doomed['id']}", token=ADMIN)
    assert status == 200 and body["adapters_deleted"] == 0, body
    status, body, _ = request(port, "DELETE", "/admin/v1/tenants/ten_doesnotexist", token=ADMIN)
    assert_error(status, body, 404, "tenant_not_found")
    # The name is free: a new tenant of that name is a different tenant, with nothing in it.
    reborn = up.tenant("doomed")
    assert reborn["id"] != doomed["id"]
    status, page, _ = request(port, "GET", "/v1/adapters", token=reborn["api_key"])
    assert status == 200 and page["data"] == [], page
    status, res, _ = request(port, "GET", f"/v1/adapters/{adapter}", token=reborn["api_key"])
    assert_error(status, res, 404, "adapter_not_found")
    # Mallory's adapter of the same name and the victim's are untouched.
    status, res, _ = chat(port, env["m"], f"{BASE}:shared-name")
    assert status == 200, res
    victim_intact(env)


@pytest.mark.parametrize("key", [
    "", "pk-prov-", "pk-prov-wrong", "pk-prov-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "isolation-admin-token", "x" * 4000, "pk-prov-\u00e9\u00e9",
])
def test_wrong_keys_are_refused_everywhere(env, key):
    for label, status, res in every_tenant_call(env, key.encode("utf-8").decode("latin-1")):
        assert_error(status, res, 401, "invalid_api_key")


def test_right_prefix_wrong_secret_is_refused(env):
    forged = env["v"][:16] + "A" * (len(env["v"]) - 16)
    for label, status, res in every_tenant_call(env, forged):
        assert_error(status, res, 401, "invalid_api_key")


def test_key_in_other_places_than_the_bearer_header_is_ignored(env):
    port, v = env["port"], env["v"]
    for headers in ({"Authorization": f"Basic {v}"}, {"Authorization": v},
                    {"X-Api-Key": v}, {"Authorization": f"Bearer  {v}x"}):
        status, res, _ = request(port, "GET", "/v1/adapters", headers=headers)
        assert_error(status, res, 401, "invalid_api_key")
    status, res, _ = request(port, "GET", f"/v1/adapters?api_key={urllib.parse.quote(v)}")
    assert_error(status, res, 401, "invalid_api_key")


ADMIN_TOKENS = [None, "", "wrong", "isolation-admin-tokeN", "isolation-admin-token2",
                "Isolation-Admin-Token", "tenant-key"]


@pytest.mark.parametrize("attempt", range(len(ADMIN_TOKENS)))
def test_admin_endpoints_refuse_without_the_admin_token(env, attempt):
    port = env["port"]
    token = ADMIN_TOKENS[attempt]
    if token == "tenant-key":
        token = env["v"]
    intruder = f"intruder-{attempt}"
    calls = [
        ("POST", "/admin/v1/tenants", {"name": intruder, "tier": "dedicated"}),
        ("POST", f"/admin/v1/tenants/{env['victim']['id']}/keys", None),
        ("DELETE", f"/admin/v1/keys/{env['v'][:16]}", None),
        ("DELETE", f"/admin/v1/tenants/{env['victim']['id']}", None),
        ("GET", "/admin/v1/engines", None),
    ]
    for method, target, body in calls:
        status, res, headers = request(port, method, target, body, token)
        assert_error(status, res, 401, "invalid_admin_token")
        assert headers["WWW-Authenticate"] == "Bearer"
    # Nothing happened: the victim's key still works, and the intruder tenant does not exist
    # (creating it with the admin token succeeds).
    victim_intact(env)
    status, res, _ = request(port, "POST", "/admin/v1/tenants",
                             {"name": intruder, "tier": "shared"}, ADMIN)
    assert status == 201, res


# --- path traversal in names, repos and paths -------------------------------------------------

TRAVERSAL_NAMES = ["../private-v1", "..%2Fprivate-v1", "a/b", "/etc/passwd", "..\\..\\x",
                   "name\x00x", "name with space", "x" * 65, "", "caf\u00e9"]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_traversal_names_are_refused_on_upload(env, name):
    status, body, _ = upload(env["port"], env["m"], name, BASE, toy_adapter())
    assert status == 400, body
    assert body["error"]["param"] == "name" and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_traversal_names_are_refused_on_import(env, name):
    status, body, _ = request(env["port"], "POST", "/v1/adapters",
                              {"name": name, "base_model": BASE, "repo": "org/repo"}, env["m"])
    assert status == 400, body
    assert body["error"]["param"] == "name", body


@pytest.mark.parametrize("repo", ["../etc", "org/../victim", "org/x/../../y", "/abs/path",
                                  "org/..", "..", "org/.hidden", "http://evil/x", "org//x",
                                  "org/x?y=z", "org/x#frag", "org\\x"])
def test_traversal_repos_are_refused(env, repo):
    status, body, _ = request(env["port"], "POST", "/v1/adapters",
                              {"name": "imp", "base_model": BASE, "repo": repo}, env["m"])
    assert status == 400, (repo, body)
    assert body["error"]["param"] == "repo", body


@pytest.mark.parametrize("base", ["../toy-llama", "toy-llama/../toy-llama", "/toy-llama",
                                  "toy-llama:private-v1"])
def test_traversal_base_models_are_refused(env, base):
    status, body, _ = upload(env["port"], env["m"], "ok-name", base, toy_adapter())
    assert status in (400, 404), body
    assert body["error"]["param"] == "base_model", body


@pytest.mark.parametrize("path", ["/v1/adapters/../../admin/v1/engines",
                                  "/v1/../admin/v1/engines", "/admin/v1/../../v1/models/../../admin/v1/engines",
                                  "/%2e%2e/admin/v1/engines", "//admin/v1/engines"])
def test_traversal_paths_never_reach_admin(env, path):
    status, body, _ = request(env["port"], "GET", path, token=env["m"])
    assert status in (401, 404), (path, body)
    assert "data" not in body


# --- oversized and malformed input --------------------------------------------------------------

def raw_exchange(port, data, read_timeout=20):
    """Sends raw bytes, returns everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def parse_raw(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_oversized_header_gets_431(env):
    req = (f"GET /v1/adapters HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env['m']}\r\n"
           f"X-Padding: {'a' * 64 * 1024}\r\n\r\n").encode()
    status, body = parse_raw(raw_exchange(env["port"], req))
    assert_error(status, body, 431, "header_too_large")


def test_many_headers_get_431(env):
    lines = "".join(f"X-H{i}: {'b' * 50}\r\n" for i in range(2000))
    req = f"GET /v1/models HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode()
    status, body = parse_raw(raw_exchange(env["port"], req))
    assert_error(status, body, 431, "header_too_large")


@pytest.mark.parametrize("framing,what", [
    ("Content-Length: abc\r\n", "bad Content-Length"),
    ("Content-Length: -5\r\n", "bad Content-Length"),
    ("Content-Length: 2\r\nContent-Length: 3\r\n", "Content-Length"),
    ("Transfer-Encoding: chunked\r\n", "bad chunk"),
])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/adapters/upload"])
def test_malformed_framing_gets_400_naming_it(env, path, framing, what):
    body = b"zz\r\n{}\r\n0\r\n\r\n" if "chunked" in framing else b"{}"
    kind = (f"multipart/form-data; boundary={BOUNDARY}" if path.endswith("upload")
            else "application/json")
    req = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env['m']}\r\n"
           f"Content-Type: {kind}\r\n{framing}\r\n").encode() + body
    answer = raw_exchange(env["port"], req)
    status, res = parse_raw(answer)
    assert_error(status, res, 400, "malformed_request")
    assert what in res["error"]["message"], res
    assert b"connection: close" in answer.lower()


def test_a_file_part_without_a_filename_is_the_file_not_a_form_field(env):
    """Some clients (curl -F 'file=<path') send the file part without a filename: it is held
    to the tier's file limit like any file, not to the 1 MiB of a form field."""
    rank, hidden = 64, 4096  # llama-3.1-8b q_proj of layer 0: 1 MiB of F16
    a = b = rank * hidden * 2
    prefix = "base_model.model.model.layers.0.self_attn.q_proj."
    header = json.dumps({
        prefix + "lora_A.weight": {"dtype": "F16", "shape": [rank, hidden], "data_offsets": [0, a]},
        prefix + "lora_B.weight": {"dtype": "F16", "shape": [hidden, rank],
                                   "data_offsets": [a, a + b]},
    }).encode()
    weights = len(header).to_bytes(8, "little") + header + bytes(a + b)
    assert len(weights) > 1024 * 1024
    body = b""
    for name, value in (("name", "no-filename"), ("base_model", "llama-3.1-8b-instruct")):
        body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n").encode()
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'.encode()
    body += weights + f"\r\n--{BOUNDARY}--\r\n".encode()
    status, res, _ = request(env["port"], "POST", "/v1/adapters/upload", body, env["m"],
                             {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert status == 202, res
    assert res["size_bytes"] == len(weights)
    assert wait_status(env["port"], env["m"], res["id"]) == "ready"


@pytest.mark.parametrize("path", ["/v1/adapters", "/v1/chat/completions", "/admin/v1/tenants"])
def test_oversized_json_body_gets_413(env, path):
    token = ADMIN if path.startswith("/admin") else env["m"]
    body = json.dumps({"model": f"{BASE}:shared-name", "name": "x",
                       "pad": "p" * (5 * 1024 * 1024)}).encode()
    status, res, _ = request(env["port"], "POST", path, body, token,
                             {"Content-Type": "application/json"})
    assert_error(status, res, 413, "body_too_large")
    assert "limit of 4194304 bytes" in res["error"]["message"]


def test_a_full_context_chat_request_is_not_refused_for_its_size(env):
    # A 128k-token context of CJK text (~1.5 characters a token), \u-escaped as Python's JSON
    # encoder sends it by default: about 1.2 MB.
    content = "\u8a9e" * (128 * 1024 * 3 // 2)
    body = json.dumps({"model": f"{BASE}:no-such-adapter",
                       "messages": [{"role": "user", "content": content}]}).encode()
    assert len(body) > 1024 * 1024
    status, res, _ = request(env["port"], "POST", "/v1/chat/completions", body, env["m"],
                             {"Content-Type": "application/json"})
    # Read and parsed: the answer is about the model, not the size.
    assert_error(status, res, 404, "model_not_found")
    # Forwarded: the engine takes it too.
    body = json.dumps({"model": BASE, "max_tokens": 2,
                       "messages": [{"role": "user", "content": content}]}).encode()
    status, res, _ = request(env["port"], "POST", "/v1/chat/completions", body, env["m"],
                             {"Content-Type": "application/json"})
    assert status == 200, res
    assert res["model"] == BASE and res["choices"][0]["message"]["content"], res


def test_declared_oversized_upload_gets_413_before_the_body(env):
    req = (f"POST /v1/adapters/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env['m']}\r\n"
           f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
           f"Content-Length: {600 * 1000 * 1000}\r\n\r\n").encode()
    status, body = parse_raw(raw_exchange(env["port"], req))
    assert_error(status, body, 413, "adapter_too_large", "file")


def test_upload_crossing_the_limit_mid_stream_gets_413_and_leaves_nothing(env):
    """No Content-Length (chunked): the gateway only learns the size while streaming, and must
    stop at 500 MB with a 413, with no adapter made and the name still free."""
    port, m = env["port"], env["m"]
    head = multipart({"name": "huge", "base_model": BASE}, toy_adapter())
    head = head[: head.rindex(f"\r\n--{BOUNDARY}--".encode())]  # keep the file part open
    piece = bytes(1 << 20)
    req = (f"POST /v1/adapters/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {m}\r\n"
           f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
           f"Transfer-Encoding: chunked\r\n\r\n").encode()
    chunk = lambda data: f"{len(data):x}\r\n".encode() + data + b"\r\n"  # noqa: E731
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        try:
            s.sendall(req + chunk(head))
            while sent < 520 * 1000 * 1000:  # past the 500 MB limit; the answer comes first
                s.sendall(chunk(piece))
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := s.recv(65536):
                answer += data
        except (ConnectionResetError, socket.timeout):
            pass
    status, body = parse_raw(answer)
    assert_error(status, body, 413, "adapter_too_large", "file")
    assert sent >= 500 * 1000 * 1000 - len(head) - len(piece)  # refused while streaming
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=m)
    assert "huge" not in [a["name"] for a in page["data"]]
    created = upload_adapter(port, m, "huge", BASE, toy_adapter())  # the name is free
    assert wait_status(port, m, created["id"]) == "ready"


def test_oversized_form_field_is_refused(env):
    body = multipart({"name": "n" * (2 * 1024 * 1024), "base_model": BASE}, toy_adapter())
    status, res, _ = request(env["port"], "POST", "/v1/adapters/upload", body, env["m"],
                             {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert status in (400, 413), res
    assert res["error"]["code"] is not None or res["error"]["param"] is not None


def test_deeply_nested_json_is_refused(env):
    deep = "[" * 100000 + "]" * 100000
    body = ('{"model": "toy-llama:shared-name", "messages": ' + deep + "}").encode()
    status, res, _ = request(env["port"], "POST", "/v1/chat/completions", body, env["m"],
                             {"Content-Type": "application/json"})
    assert status == 400, res
    status, res, _ = request(env["port"], "POST", "/v1/adapters",
                             ('{"name": ' + deep + "}").encode(), env["m"],
                             {"Content-Type": "application/json"})
    assert status == 400, res
    victim_intact(env)


# --- slow clients -------------------------------------------------------------------------------

def open_connections(port):
    status, text, _ = request(port, "GET", "/metrics")
    assert status == 200
    m = re.search(r'^loraplane_http_open_connections\{role="gateway"\} (\S+)$', text, re.M)
    return int(float(m.group(1))) if m else 0


def wait_closed_by_server(sock):
    """Blocks until the server closes `sock` (the test's own timeout bounds the wait)."""
    sock.settimeout(CLIENT_TIMEOUT_S * 30)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_slow_header_is_cut_and_frees_the_connection(env):
    port = env["port"]
    baseline = open_connections(port)
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    for s in sockets:
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: a")  # never finished
    for s in sockets:
        wait_closed_by_server(s)
        s.close()
    assert open_connections(port) <= baseline + 1  # +1: this scrape's own connection
    victim_intact(env)


def test_stalled_upload_is_cut_and_leaves_no_adapter(env):
    port, m = env["port"], env["m"]
    baseline = open_connections(port)
    weights = toy_adapter(rank=8) + bytes(3 * 1024 * 1024)  # bytes past the header: chunks cut
    body = multipart({"name": "stalled", "base_model": BASE}, weights)
    head = (f"POST /v1/adapters/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {m}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + body[: len(body) * 3 // 4])  # most of the file, then nothing
    wait_closed_by_server(s)
    s.close()
    assert open_connections(port) <= baseline + 1
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=m)
    assert "stalled" not in [a["name"] for a in page["data"]]
    status, models, _ = request(port, "GET", "/v1/models", token=m)
    assert f"{BASE}:stalled" not in [x["id"] for x in models["data"]]
    # The name is free: the partial upload did not become an adapter anywhere.
    created = upload_adapter(port, m, "stalled", BASE, toy_adapter())
    assert wait_status(port, m, created["id"]) == "ready"
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=m)
    assert [a["name"] for a in page["data"]].count("stalled") == 1


def test_upload_in_flight_when_its_tenant_is_deleted_is_refused(env):
    """The delete sweeps the adapters that exist; an upload still streaming must not add one."""
    port, up = env["port"], env["up"]
    tenant = up.tenant("midway")
    body = multipart({"name": "late", "base_model": BASE}, toy_adapter(rank=8))
    head = (f"POST /v1/adapters/upload HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {tenant['api_key']}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head + body[: len(body) // 2])
        status, res, _ = request(port, "DELETE", f"/admin/v1/tenants/{tenant['id']}", token=ADMIN)
        assert status == 200 and res["adapters_deleted"] == 0, res
        s.sendall(body[len(body) // 2:])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status, res = parse_raw(answer)
    assert_error(status, res, 401, "invalid_api_key")


def test_trickled_upload_is_cut(env):
    """A client sending a few bytes at a time never keeps a slot for long."""
    port, m = env["port"], env["m"]
    body = multipart({"name": "trickled", "base_model": BASE}, toy_adapter())
    head = (f"POST /v1/adapters/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {m}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head)
    sent = 0
    closed = False
    deadline = time.time() + CLIENT_TIMEOUT_S * 30
    while time.time() < deadline and sent < len(body) - 10:
        try:
            s.sendall(body[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sent += 1
        time.sleep(0.2)
    if not closed:
        wait_closed_by_server(s)
    s.close()
    status, page, _ = request(port, "GET", "/v1/adapters?limit=100", token=m)
    assert "trickled" not in [a["name"] for a in page["data"]]


# --- last: nothing of the victim was touched ----------------------------------------------------

def test_zz_victim_adapters_are_intact_and_usable(env):
    victim_intact(env)
    for stream in (False, True):
        status, body, _ = chat(env["port"], env["v"], f"{BASE}:private-v1", stream=stream)
        assert status == 200
    assert env["up"].alive()

"""The OpenAI API of `loraplane up` through the official openai SDK, as a user meets it.

Starts the real binary (LORAPLANE_BINARY) on free ports with simulated engines, creates two
tenants through the admin API, uploads small real LoRA adapters for the toy-llama base, then
calls them as `toy-llama:<name>`: chat and completions, streamed and not, models.list(), and
every typed error the SDK raises for our answers.
"""

import io
import json
import os
import socket
import sys
import time

import numpy as np
import openai
import pytest
from safetensors.numpy import save

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from loraplane_http import call  # noqa: E402
import loraplane_up  # noqa: E402

ADMIN = "conformance-admin-token"
BASE = "toy-llama"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def toy_adapter(rank=8, in_dim=64):
    """A PEFT-named q_proj/o_proj LoRA for toy-llama (hidden 64); in_dim != 64 is invalid."""
    tensors = {}
    for module in ("q_proj", "o_proj"):
        prefix = f"base_model.model.model.layers.0.self_attn.{module}"
        tensors[f"{prefix}.lora_A.weight"] = np.zeros((rank, in_dim), dtype=np.float16)
        tensors[f"{prefix}.lora_B.weight"] = np.zeros((64, rank), dtype=np.float16)
    return save(tensors)


def upload(port, key, name, weights):
    boundary = "----conformance"
    out = io.BytesIO()
    for field, value in (("name", name), ("base_model", BASE)):
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="adapter_model.safetensors"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    out.write(weights)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    status, body = call(port, "POST", "/v1/adapters/upload", out.getvalue(), key,
                        {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 202, body
    return body["id"]


def settle(port, key, adapter_id):
    for _ in range(600):
        status, body = call(port, "GET", f"/v1/adapters/{adapter_id}", token=key)
        if body.get("status") in ("ready", "failed"):
            return body
        time.sleep(0.1)
    pytest.fail(f"{adapter_id} did not settle: {body}")


class Up(loraplane_up.Up):
    """`loraplane up` (loraplane_up.Up) with this suite's admin token, and SDK clients of it."""

    def __init__(self, *args):
        super().__init__(ADMIN, *args)

    def client(self, key):
        return openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def up():
    u = Up("--sim-profile", "instant")
    try:
        acme = u.tenant("acme")
        globex = u.tenant("globex")
        ready = upload(u.port, acme["api_key"], "support-v3", toy_adapter())
        broken = upload(u.port, acme["api_key"], "broken", toy_adapter(in_dim=32))
        secret = upload(u.port, globex["api_key"], "secret", toy_adapter())
        assert settle(u.port, acme["api_key"], ready)["status"] == "ready"
        assert settle(u.port, acme["api_key"], broken)["status"] == "failed"
        assert settle(u.port, globex["api_key"], secret)["status"] == "ready"
        u.acme, u.globex = acme, globex
        yield u
    finally:
        u.stop()


def test_models_list_has_bases_and_only_the_callers_ready_adapters(up):
    models = {m.id: m for m in up.client(up.acme["api_key"]).models.list()}
    assert {BASE, "llama-3.1-8b-instruct", "llama-3.1-70b-instruct"} <= set(models)
    adapter = models[f"{BASE}:support-v3"]
    assert adapter.owned_by == up.acme["id"]
    assert getattr(adapter, "parent", None) == BASE
    assert f"{BASE}:broken" not in models
    assert f"{BASE}:secret" not in models


def test_models_retrieve_answers_what_the_list_shows(up):
    client = up.client(up.acme["api_key"])
    listed = {m.id: m for m in client.models.list()}
    adapter = client.models.retrieve(f"{BASE}:support-v3")
    assert adapter.model_dump() == listed[f"{BASE}:support-v3"].model_dump()
    assert client.models.retrieve(BASE).model_dump() == listed[BASE].model_dump()
    # A failed adapter, another tenant's, an unknown base: the same 404 as inference gives.
    for missing in (f"{BASE}:broken", f"{BASE}:secret", "gpt-17", f"{BASE}:nothing"):
        with pytest.raises(openai.NotFoundError) as e:
            client.models.retrieve(missing)
        assert e.value.code == "model_not_found", missing


def test_chat_completion_json_and_stream(up):
    c = up.client(up.acme["api_key"])
    m = f"{BASE}:support-v3"
    res = c.chat.completions.create(model=m, messages=MESSAGES, max_tokens=6)
    assert res.model == m
    assert res.choices[0].message.role == "assistant" and res.choices[0].message.content
    assert res.usage.completion_tokens > 0
    chunks = list(c.chat.completions.create(model=m, messages=MESSAGES, max_tokens=6, stream=True))
    assert len(chunks) >= 2 and all(ch.model == m for ch in chunks)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)


def test_completions_json_and_stream(up):
    c = up.client(up.acme["api_key"])
    m = f"{BASE}:support-v3"
    res = c.completions.create(model=m, prompt="Once upon a time", max_tokens=5)
    assert res.model == m and res.choices[0].text
    chunks = list(c.completions.create(model=m, prompt="Once upon a time", max_tokens=5, stream=True))
    assert chunks and all(ch.model == m for ch in chunks)


def test_embeddings_of_the_embedding_base(up):
    """`up` serves every base it lists: bge-m3 answers embeddings (the SDK asks for base64)."""
    c = up.client(up.acme["api_key"])
    res = c.embeddings.create(model="bge-m3", input=["first text", "second text"])
    assert res.model == "bge-m3"
    assert [d.index for d in res.data] == [0, 1]
    first, second = (np.array(d.embedding) for d in res.data)
    assert first.shape == (1024,)  # bge-m3's hidden size, from ops/models.json
    assert abs(np.linalg.norm(first) - 1) < 1e-4
    assert not np.allclose(first, second)
    plain = c.embeddings.create(model="bge-m3", input="first text", encoding_format="float")
    assert np.allclose(plain.data[0].embedding, first, atol=1e-6)
    assert res.usage.prompt_tokens == 4


def test_the_same_name_in_two_tenants_never_collides(up):
    theirs = up.client(up.globex["api_key"]).chat.completions.create(
        model=f"{BASE}:secret", messages=MESSAGES, max_tokens=3)
    assert theirs.model == f"{BASE}:secret"
    with pytest.raises(openai.NotFoundError) as foreign:
        up.client(up.acme["api_key"]).chat.completions.create(model=f"{BASE}:secret", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as missing:
        up.client(up.acme["api_key"]).chat.completions.create(model=f"{BASE}:nope", messages=MESSAGES)
    assert foreign.value.code == missing.value.code == "model_not_found"


def read_head(sock, data=b""):
    """Reads up to the end of one response head; returns (status line, rest of the bytes)."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def expect_continue_head(path, key, length):
    """A POST head that holds its JSON body back for `100 Continue`."""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def read_json_body(sock, head, rest):
    """The JSON body after `head`, by its Content-Length."""
    length = int(next(l.split(":", 1)[1] for l in head.split("\r\n")
                      if l.lower().startswith("content-length:")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return json.loads(rest[:length])


def test_a_chat_request_with_expect_100_continue_gets_the_interim_answer(up):
    # curl sends `Expect: 100-continue` for a body over 1 MiB (a long prompt) and holds the body
    # until the 100 arrives: without it every such request waits out curl's 1 s.
    m = f"{BASE}:support-v3"
    body = json.dumps({"model": m, "messages": MESSAGES, "max_tokens": 3}).encode()
    with socket.create_connection(("127.0.0.1", up.port), timeout=10) as s:
        s.sendall(expect_continue_head("/v1/chat/completions", up.acme["api_key"], len(body)))
        try:
            interim, rest = read_head(s)
        except socket.timeout:
            pytest.fail("no `100 Continue` before the body was sent")
        assert interim.startswith("HTTP/1.1 100 ")
        s.sendall(body)
        final, rest = read_head(s, rest)
        assert final.startswith("HTTP/1.1 200 ")
        assert read_json_body(s, final, rest)["model"] == m


@pytest.mark.parametrize("path,key", [("/v1/chat/completions", "sk-lp-not-a-key"),
                                       ("/admin/v1/tenants", "not-the-admin-token")])
def test_a_wrong_key_is_refused_before_the_body_is_asked_for(up, path, key):
    # A client holding a 3 MiB body back for `100 Continue` with a key that will be refused gets
    # the 401 instead of the 100: it does not send its body only to be refused.
    with socket.create_connection(("127.0.0.1", up.port), timeout=10) as s:
        s.sendall(expect_continue_head(path, key, 3 << 20))
        try:
            final, rest = read_head(s)
        except socket.timeout:
            pytest.fail("no answer before the body was sent")
        assert final.startswith("HTTP/1.1 401 "), final.split("\r\n")[0]
        assert "connection: close" in final.lower()
        code = read_json_body(s, final, rest)["error"]["code"]
        assert code == ("invalid_admin_token" if path.startswith("/admin/") else "invalid_api_key")


def test_a_stream_to_an_http_1_0_client_is_not_chunked(up):
    # HTTP/1.0 has no chunked encoding: the events come as a body the connection's close ends.
    m = f"{BASE}:support-v3"
    body = json.dumps({"model": m, "messages": MESSAGES, "max_tokens": 3, "stream": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\n"
            f"Authorization: Bearer {up.acme['api_key']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", up.port), timeout=10) as s:
        s.sendall(head + body)
        final, rest = read_head(s)
        while chunk := s.recv(65536):
            rest += chunk
    assert final.split("\r\n")[0].split(" ")[1] == "200"
    assert "transfer-encoding" not in final.lower()
    events = [e for e in rest.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert len(events) >= 2
    assert all(json.loads(e.removeprefix("data: "))["model"] == m for e in events[:-1])


def test_typed_errors(up):
    c = up.client(up.acme["api_key"])
    with pytest.raises(openai.AuthenticationError):
        up.client("pk-prov-not-a-key").chat.completions.create(model=BASE, messages=MESSAGES)
    with pytest.raises(openai.ConflictError) as conflict:
        c.chat.completions.create(model=f"{BASE}:broken", messages=MESSAGES)
    assert conflict.value.code == "adapter_not_ready"
    with pytest.raises(openai.BadRequestError):
        c.embeddings.create(model="bge-m3:support-v3", input="hi")
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model=f"{BASE}:support-v3", messages="not a list")


def test_a_tenant_over_its_inflight_bound_gets_rate_limited():
    u = Up("--sim-profile", "realistic", "--tenant-max-inflight", "1")
    try:
        tenant = u.tenant("busy")
        other = u.tenant("calm")
        c = u.client(tenant["api_key"])
        stream = c.chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=400, stream=True)
        next(iter(stream))  # the first chunk: the request holds its slot now
        with pytest.raises(openai.RateLimitError) as err:
            c.chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=2)
        assert err.value.response.headers.get("retry-after")
        # Another tenant is not affected.
        calm = u.client(other["api_key"]).chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=2)
        assert calm.choices
        stream.close()
    finally:
        u.stop()

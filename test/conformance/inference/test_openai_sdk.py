"""The gateway's inference API through the official openai SDK.

Runs against the in-process stack of test/unit/inference (gateway on the mock Kafka cluster, one
simulated engine with base toy-llama, a fake agent that registers adapters in the engine), started
from the binary named by LORAPLANE_STACK_SERVER. Tenant "acme" has adapters support-v3 (on the
engine's GPU), cold-one (loaded on first use) and in-review (validating); tenant "globex" has
secret.
"""

import json
import os
import subprocess

import openai
import pytest


@pytest.fixture(scope="module")
def stack():
    binary = os.environ.get("LORAPLANE_STACK_SERVER")
    if not binary:
        pytest.skip("LORAPLANE_STACK_SERVER is set by ctest")
    env = dict(os.environ)
    env.setdefault("LORAPLANE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    proc = subprocess.Popen(
        [binary, "--run_test=serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    info = None
    for line in proc.stdout:
        if line.startswith("STACK "):
            info = json.loads(line[len("STACK "):])
            break
    if info is None:
        proc.kill()
        pytest.fail("the stack server ended before it was ready")
    yield info
    proc.stdin.close()
    proc.wait(timeout=30)


def client(stack, key=None):
    return openai.OpenAI(base_url=stack["base_url"], api_key=key or stack["api_key"], max_retries=0)


def model(stack, name):
    return f"{stack['base']}:{name}"


MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_models_list_has_bases_and_the_tenants_ready_adapters(stack):
    models = {m.id: m for m in client(stack).models.list()}
    assert stack["base"] in models
    assert "llama-3.1-8b-instruct" in models
    adapter = models[model(stack, "support-v3")]
    assert adapter.owned_by == stack["tenant_id"]
    assert getattr(adapter, "parent", None) == stack["base"]
    assert model(stack, "in-review") not in models
    assert model(stack, "secret") not in models


@pytest.mark.parametrize("name", ["support-v3", "cold-one"])
def test_chat_completion(stack, name):
    m = model(stack, name)
    res = client(stack).chat.completions.create(model=m, messages=MESSAGES, max_tokens=5)
    assert res.model == m
    assert res.object == "chat.completion"
    assert res.choices[0].message.role == "assistant"
    assert isinstance(res.choices[0].message.content, str)
    assert res.usage.completion_tokens > 0


def test_chat_completion_stream(stack):
    m = model(stack, "support-v3")
    chunks = list(
        client(stack).chat.completions.create(model=m, messages=MESSAGES, max_tokens=5, stream=True)
    )
    assert len(chunks) >= 2
    assert all(c.model == m for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices[0].finish_reason in ("length", "stop")


def test_completion_and_its_stream(stack):
    m = model(stack, "support-v3")
    c = client(stack)
    res = c.completions.create(model=m, prompt="Once upon a time", max_tokens=5)
    assert res.model == m
    assert res.choices[0].text
    chunks = list(c.completions.create(model=m, prompt="Once upon a time", max_tokens=5, stream=True))
    assert chunks and all(ch.model == m for ch in chunks)


def test_bare_base_model(stack):
    res = client(stack).chat.completions.create(model=stack["base"], messages=MESSAGES, max_tokens=3)
    assert res.model == stack["base"]


def test_bad_key_is_authentication_error(stack):
    with pytest.raises(openai.AuthenticationError):
        client(stack, key="pk-prov-not-a-real-key").models.list()
    with pytest.raises(openai.AuthenticationError):
        client(stack, key="pk-prov-not-a-real-key").chat.completions.create(
            model=stack["base"], messages=MESSAGES
        )


def test_unknown_and_foreign_adapters_are_the_same_not_found(stack):
    c = client(stack)
    with pytest.raises(openai.NotFoundError) as missing:
        c.chat.completions.create(model=model(stack, "nope"), messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as foreign:
        c.chat.completions.create(model=model(stack, "secret"), messages=MESSAGES)
    assert missing.value.code == foreign.value.code == "model_not_found"
    assert missing.value.message.replace("nope", "X") == foreign.value.message.replace("secret", "X")


def test_adapter_not_ready_is_conflict(stack):
    with pytest.raises(openai.ConflictError) as err:
        client(stack).chat.completions.create(model=model(stack, "in-review"), messages=MESSAGES)
    assert err.value.code == "adapter_not_ready"


def test_bad_requests(stack):
    c = client(stack)
    with pytest.raises(openai.BadRequestError) as err:
        c.embeddings.create(model="bge-m3:" + "support-v3", input="hi")
    assert err.value.code == "adapter_not_supported"
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="bge-m3", messages=MESSAGES)


def test_empty_pool_is_503_with_retry_after(stack):
    with pytest.raises(openai.InternalServerError) as err:
        client(stack).chat.completions.create(model="llama-3.1-70b-instruct", messages=MESSAGES)
    assert err.value.status_code == 503
    assert err.value.response.headers.get("retry-after")

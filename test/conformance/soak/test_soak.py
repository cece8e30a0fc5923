"""Soak: mixed traffic against `loraplane up` for a while, watching that nothing leaks or fails.

Traffic, all at once for LORAPLANE_SOAK_SECONDS (default 60; the documented long variant is
600): two clients calling ready adapters through the official openai SDK (chat and
completions, streamed and not), one uploading an adapter, waiting for it to be ready, calling
it once and deleting it (then checking it is gone), in a loop, and one doing the same with a
Hugging Face import from a local Hub stand-in. Every 10 s (LORAPLANE_SOAK_SAMPLE) the process's
RSS, open file descriptors and the summed Kafka consumer lag (/metrics) are sampled.

Asserted: no error of any kind; every kind of operation happened; memory flat after the
warm-up (the last third of the samples within 48 MB of the samples after the first third),
file descriptors flat (within 32), and the consumer lag back to 0 once the traffic stops.
The samples and counts are printed as a markdown table (docs/benchmarks.md, "Soak"), and
written to LORAPLANE_SOAK_REPORT when set.

  LORAPLANE_SOAK_SECONDS=600 LORAPLANE_BINARY=build/bin/loraplane \
    .venv/bin/python -m pytest -q -s test/conformance/soak/test_soak.py
"""

import hashlib
import http.server
import json
import os
import re
import statistics
import sys
import threading
import time
import urllib.request

import numpy as np
import openai
import pytest
from safetensors.numpy import save

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from loraplane_http import call  # noqa: E402
from loraplane_up import Up, upload  # noqa: E402

ADMIN = "soak-admin-token"
BASE = "toy-llama"
SECONDS = float(os.environ.get("LORAPLANE_SOAK_SECONDS", "60"))
SAMPLE = float(os.environ.get("LORAPLANE_SOAK_SAMPLE", "10"))
CONFIG = json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16,
                     "target_modules": ["q_proj", "o_proj"], "base_model_name_or_path": BASE})


def toy_adapter(seed, rank=8):
    """A valid q_proj/o_proj LoRA for toy-llama (hidden 64); each seed gives other bytes."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for module in ("q_proj", "o_proj"):
        prefix = f"base_model.model.model.layers.0.self_attn.{module}"
        tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((rank, 64)).astype(np.float16)
        tensors[f"{prefix}.lora_B.weight"] = rng.standard_normal((64, rank)).astype(np.float16)
    return save(tensors)


class Hub:
    """The two Hub API calls the validate worker makes, for a set of public repos."""

    def __init__(self):
        self.repos = {}  # repo -> (commit, {file: bytes})
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                m = re.match(r"^/api/models/(.+)/revision/([^/]+)$", self.path)
                if m and m.group(1) in hub.repos:
                    commit, files = hub.repos[m.group(1)]
                    body = json.dumps({"id": m.group(1), "sha": commit,
                                       "siblings": [{"rfilename": f} for f in files]}).encode()
                    return self.answer(200, body, "application/json")
                m = re.match(r"^/(.+)/resolve/([^/]+)/(.+)$", self.path)
                if m and m.group(1) in hub.repos and m.group(3) in hub.repos[m.group(1)][1]:
                    return self.answer(200, hub.repos[m.group(1)][1][m.group(3)], "application/octet-stream")
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, repo, weights):
        self.repos[repo] = (hashlib.sha1(weights).hexdigest(),
                            {"adapter_config.json": CONFIG.encode(), "adapter_model.safetensors": weights})


def settle(port, key, adapter_id, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        status, body = call(port, "GET", f"/v1/adapters/{adapter_id}", token=key)
        if status != 200 or body.get("status") in ("ready", "failed"):
            return body
        time.sleep(0.05)
    return {"status": "timeout"}


def sample(pid, port):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    lag = 0.0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("loraplane_kafka_consumer_lag{"):
                lag += float(line.rsplit(" ", 1)[1])
    return {"t": time.time(), "rss_mb": rss / 1e6, "fds": fds, "lag": lag}


class Soak:
    def __init__(self):
        self.errors = []
        self.counts = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def fail(self, kind, what):
        with self.lock:
            self.errors.append(f"{kind}: {what}")

    def run(self, kind, fn):
        def loop():
            i = 0
            while not self.stop.is_set():
                try:
                    fn(i)
                except Exception as e:  # every failure is a finding, whatever raised it
                    self.fail(kind, repr(e)[:300])
                i += 1
        t = threading.Thread(target=loop, name=kind)
        t.start()
        return t


@pytest.fixture(scope="module")
def up():
    hub = Hub()
    # On the real broker when there is one (LORAPLANE_KAFKA, as in ops/test): then the process's
    # memory is loraplane's own, not the embedded cluster's copy of every message.
    kafka = os.environ.get("LORAPLANE_KAFKA")
    u = Up(ADMIN, "--sim-profile", "instant", *(["--kafka", kafka] if kafka else []),
           env={"HF_ENDPOINT": f"http://127.0.0.1:{hub.port}",
                "LORAPLANE_TOPIC_PREFIX": f"soak-{os.getpid()}-{int(time.time())}."})
    try:
        yield u, hub
    finally:
        u.stop()
        hub.server.shutdown()
        if u.proc.returncode not in (0, None):
            print("".join(u.log[-50:]))


def test_mixed_traffic_leaves_memory_fds_and_lag_flat(up):
    u, hub = up
    proc, port = u.proc, u.port
    key = u.tenant("soak", "dedicated")["api_key"]
    stable = []
    for i in range(3):
        status, body, _ = upload(port, key, f"stable-{i}", BASE, toy_adapter(1000 + i))
        assert status == 202, body
        assert settle(port, key, body["id"])["status"] == "ready"
        stable.append(f"{BASE}:stable-{i}")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=30)
    for model in stable:  # resident before the clock starts
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4)

    soak = Soak()

    def infer(i):
        model = stable[i % len(stable)]
        mode = i % 4
        if mode == 0:
            r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"q{i}"}],
                                               max_tokens=8)
            ok = r.model == model and r.choices[0].message.content
        elif mode == 1:
            chunks = list(client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"q{i}"}], max_tokens=8, stream=True))
            ok = chunks and all(c.model == model for c in chunks) and \
                "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        elif mode == 2:
            r = client.completions.create(model=model, prompt=f"p{i}", max_tokens=8)
            ok = r.model == model and r.choices[0].text
        else:
            chunks = list(client.completions.create(model=model, prompt=f"p{i}", max_tokens=8, stream=True))
            ok = chunks and "".join(c.choices[0].text for c in chunks if c.choices)
        if not ok:
            soak.fail("inference", f"mode {mode}: empty or wrong model")
        soak.count("inference_stream" if mode % 2 else "inference")

    def lifecycle(kind, i):
        name = f"{kind}-{i}"
        if kind == "upload":
            status, body, _ = upload(port, key, name, BASE, toy_adapter(i))
        else:
            repo = f"soak/adapter-{i}"
            hub.add(repo, toy_adapter(500000 + i))
            status, body = call(port, "POST", "/v1/adapters", {"name": name, "base_model": BASE, "repo": repo}, key)
        if status != 202:
            return soak.fail(kind, f"{status} {body}")
        state = settle(port, key, body["id"])
        if state.get("status") != "ready":
            return soak.fail(kind, f"{name} ended {state}")
        r = client.chat.completions.create(model=f"{BASE}:{name}", messages=[{"role": "user", "content": "x"}],
                                           max_tokens=4)
        if r.model != f"{BASE}:{name}":
            soak.fail(kind, f"answer for {r.model}")
        status, deleted = call(port, "DELETE", f"/v1/adapters/{body['id']}", token=key)
        if status != 200:
            return soak.fail(kind, f"delete {status} {deleted}")
        status, gone = call(port, "GET", f"/v1/adapters/{body['id']}", token=key)
        if status == 200 and gone.get("status") not in ("deleting", "deleted"):
            soak.fail(kind, f"after delete: {gone}")
        soak.count(kind)

    samples = [sample(proc.pid, port)]
    threads = [soak.run("inference-a", infer), soak.run("inference-b", lambda i: infer(i + 1)),
               soak.run("upload", lambda i: lifecycle("upload", i)),
               soak.run("import", lambda i: lifecycle("import", i))]
    start = time.time()
    while time.time() - start < SECONDS:
        time.sleep(min(SAMPLE, max(0.0, SECONDS - (time.time() - start))))
        samples.append(sample(proc.pid, port))
    soak.stop.set()
    for t in threads:
        t.join(timeout=60)
    lag_drained = False
    for _ in range(60):
        if sample(proc.pid, port)["lag"] == 0:
            lag_drained = True
            break
        time.sleep(0.5)

    lines = ["| t s | RSS MB | fds | Kafka lag |", "|---|---|---|---|"]
    lines += [f"| {s['t'] - samples[0]['t']:.0f} | {s['rss_mb']:.1f} | {s['fds']} | {s['lag']:.0f} |" for s in samples]
    lines.append("")
    lines.append(f"operations in {SECONDS:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(soak.counts.items()))
                 + f"; errors {len(soak.errors)}")
    report = "\n".join(lines)
    print("\n" + report)
    if os.environ.get("LORAPLANE_SOAK_REPORT"):
        with open(os.environ["LORAPLANE_SOAK_REPORT"], "w") as f:
            f.write(report + "\n")

    assert not soak.errors, soak.errors[:10]
    for kind in ("inference", "inference_stream", "upload", "import"):
        assert soak.counts.get(kind, 0) > 0, f"no {kind} completed: {soak.counts}"
    assert proc.poll() is None, "loraplane up exited during the soak"
    third = max(1, len(samples) // 3)
    settled = samples[third:]
    base_rss = statistics.median(s["rss_mb"] for s in settled[:max(1, len(settled) // 2)])
    assert max(s["rss_mb"] for s in samples[-third:]) - base_rss < 48, report
    base_fds = statistics.median(s["fds"] for s in settled[:max(1, len(settled) // 2)])
    assert max(s["fds"] for s in samples[-third:]) - base_fds < 32, report
    assert lag_drained, "Kafka consumer lag did not return to 0 after the traffic"

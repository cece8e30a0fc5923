"""Start `loraplane up` for a Python suite, and the few calls every suite needs: a toy adapter
for the toy-llama base, a multipart upload, waiting for a status. Shared by the schemathesis,
isolation and backpressure suites."""

import json
import os
import re
import resource
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from loraplane_http import call


def request(port, method, path, body=None, token=None, headers=None, timeout=30):
    """Like loraplane_http.call, but also returns the response headers: (status, body, headers).
    The body is parsed JSON when it parses, else the raw text."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            status, raw, hdrs = res.status, res.read(), res.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    try:
        return status, json.loads(raw or b"{}"), hdrs
    except ValueError:
        return status, raw.decode(errors="replace"), hdrs


def toy_adapter(rank=4):
    """q_proj of layer 0, F16 zeros: a valid LoRA for toy-llama (hidden 64)."""
    a, b = rank * 64 * 2, 64 * rank * 2
    prefix = "base_model.model.model.layers.0.self_attn.q_proj."
    header = json.dumps({
        prefix + "lora_A.weight": {"dtype": "F16", "shape": [rank, 64], "data_offsets": [0, a]},
        prefix + "lora_B.weight": {"dtype": "F16", "shape": [64, rank], "data_offsets": [a, a + b]},
    }).encode()
    return len(header).to_bytes(8, "little") + header + bytes(a + b)


BOUNDARY = "----loraplane-test"


def multipart(fields, file_bytes=None, boundary=BOUNDARY):
    """A multipart/form-data body: text fields, then `file` when given."""
    out = b""
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    if file_bytes is not None:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="adapter_model.safetensors"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += file_bytes + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def upload(port, key, name, base, file_bytes, extra=None):
    """POST /v1/adapters/upload; returns (status, body, headers)."""
    body = multipart({"name": name, "base_model": base, **(extra or {})}, file_bytes)
    return request(port, "POST", "/v1/adapters/upload", body, key,
                   {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def upload_adapter(port, key, name, base, file_bytes):
    status, body, _ = upload(port, key, name, base, file_bytes)
    assert status == 202, body
    return body


def wait_status(port, key, adapter_id, want=("ready", "failed"), timeout=60):
    deadline = time.time() + timeout
    body = {}
    while time.time() < deadline:
        _, body = call(port, "GET", f"/v1/adapters/{adapter_id}", token=key)
        if body.get("status") in want:
            return body["status"]
        time.sleep(0.1)
    pytest.fail(f"{adapter_id} did not reach {want}: {body}")


class Up:
    """`loraplane up --port 0` on a temporary data dir; `port` once it logged its ready line."""

    def __init__(self, admin_token, *args, env=None, nofile=None):
        """`nofile`: (soft, hard) limit of open files the process starts with."""
        binary = os.environ.get("LORAPLANE_BINARY")
        if not binary:
            pytest.skip("LORAPLANE_BINARY is set by ctest")
        self.dir = tempfile.TemporaryDirectory(prefix="loraplane-up-")
        self.admin = admin_token
        self.log = []
        self.proc = subprocess.Popen(
            [binary, "up", "--port", "0", "--data-dir", self.dir.name, *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, LORAPLANE_ADMIN_TOKEN=admin_token, **(env or {})),
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile))
            if nofile else None)
        self.port = None
        deadline = time.time() + 120
        for line in self.proc.stdout:
            self.log.append(line)
            m = re.search(r"loraplane ready on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if time.time() > deadline:
                break
        if self.port is None:
            self.stop()
            pytest.fail("loraplane up did not get ready:\n" + "".join(self.log[-40:]))
        # Keep draining the log so the process never blocks on a full pipe.
        threading.Thread(target=lambda: [self.log.append(line) for line in self.proc.stdout],
                         daemon=True).start()

    def tenant(self, name, tier="shared"):
        status, body = call(self.port, "POST", "/admin/v1/tenants", {"name": name, "tier": tier},
                            self.admin)
        assert status == 201, body
        return body

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()

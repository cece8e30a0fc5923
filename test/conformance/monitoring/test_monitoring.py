"""The Grafana dashboard and the Prometheus rules against real data.

Starts `loraplane up` (LORAPLANE_BINARY), sends traffic through it (a tenant, an upload, chat
requests, a refused request), starts the real Prometheus server from Debian's package scraping
it every second with ops/prometheus/rules.yml, then runs every dashboard panel query and every
rule expression through Prometheus's HTTP API: each must be valid and return at least one
series. For alerts, the expression left of its threshold is what must return data (an alert
that fires here would be a bug of its own, checked separately).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from loraplane_http import call  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
ADMIN = "monitoring-admin-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toy_adapter():
    # q_proj of layer 0, rank 4, F16 zeros: valid for toy-llama (hidden 64).
    a, b = 4 * 64 * 2, 64 * 4 * 2
    prefix = "base_model.model.model.layers.0.self_attn.q_proj."
    header = json.dumps({
        prefix + "lora_A.weight": {"dtype": "F16", "shape": [4, 64], "data_offsets": [0, a]},
        prefix + "lora_B.weight": {"dtype": "F16", "shape": [64, 4], "data_offsets": [a, a + b]},
    }).encode()
    return len(header).to_bytes(8, "little") + header + bytes(a + b)


def traffic(port):
    status, tenant = call(port, "POST", "/admin/v1/tenants", {"name": "watched", "tier": "shared"}, ADMIN)
    assert status == 201, tenant
    key = tenant["api_key"]
    boundary = "----monitoring"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nwatched-v1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="base_model"\r\n\r\ntoy-llama\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.safetensors"\r\n\r\n'
            ).encode() + toy_adapter() + f"\r\n--{boundary}--\r\n".encode()
    status, adapter = call(port, "POST", "/v1/adapters/upload", body, key,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 202, adapter
    for _ in range(300):
        if call(port, "GET", f"/v1/adapters/{adapter['id']}", token=key)[1].get("status") == "ready":
            break
        time.sleep(0.1)
    return key


def chat(port, key):
    status, res = call(port, "POST", "/v1/chat/completions",
                       {"model": "toy-llama:watched-v1", "max_tokens": 4,
                        "messages": [{"role": "user", "content": "hi"}]}, key)
    assert status == 200, res
    call(port, "GET", "/v1/adapters/adp_missing", token=key)  # a 404
    call(port, "GET", "/v1/models", token="pk-prov-wrong")    # a 401


def queries():
    """(where, expr) for every panel target and every rule of ops/."""
    out = []
    with open(os.path.join(ROOT, "ops/grafana/loraplane.json")) as f:
        dash = json.load(f)
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel '{panel['title']}'", target["expr"]))
    with open(os.path.join(ROOT, "ops/prometheus/rules.yml")) as f:
        rules = yaml.safe_load(f)
    for group in rules["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"].strip()
            if "alert" in rule:
                expr = re.split(r"\s(?:>|<|==|!=|>=|<=)\s(?=[^()]*$)", expr)[0]
                where = f"alert {rule['alert']}"
            else:
                where = f"record {rule['record']}"
            out.append((where, expr))
    return out


@pytest.fixture(scope="module")
def stack():
    binary = os.environ.get("LORAPLANE_BINARY")
    if not binary:
        pytest.skip("LORAPLANE_BINARY is set by ctest")
    prometheus = shutil.which("prometheus")
    assert prometheus, "the prometheus server is not installed (ops/setup installs it)"
    work = tempfile.TemporaryDirectory(prefix="loraplane-monitoring-")
    up = prom = None
    try:
        up = subprocess.Popen([binary, "up", "--port", "0", "--data-dir", f"{work.name}/up",
                               "--sim-profile", "instant"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, LORAPLANE_ADMIN_TOKEN=ADMIN))
        port = None
        for line in up.stdout:
            m = re.search(r"loraplane ready on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        threading.Thread(target=lambda: [None for _ in up.stdout], daemon=True).start()
        assert port, "loraplane up did not get ready"
        key = traffic(port)
        chat(port, key)

        prom_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [os.path.abspath(os.path.join(ROOT, "ops/prometheus/rules.yml"))],
            "scrape_configs": [{"job_name": "loraplane",
                                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
        }
        with open(f"{work.name}/prometheus.yml", "w") as f:
            yaml.safe_dump(config, f)
        prom = subprocess.Popen([prometheus, f"--config.file={work.name}/prometheus.yml",
                                 f"--storage.tsdb.path={work.name}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Traffic while Prometheus scrapes, so rates see increases.
        deadline = time.time() + 12
        while time.time() < deadline:
            chat(port, key)
            time.sleep(0.5)
        yield prom_port
    finally:
        for proc in (prom, up):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.kill()
        work.cleanup()


def prom_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as res:
            return json.loads(res.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (ops/setup installs prometheus)"
    done = subprocess.run([promtool, "check", "rules", os.path.join(ROOT, "ops/prometheus/rules.yml")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_target_is_scraped(stack):
    res = prom_query(stack, 'up{job="loraplane"}')
    assert res["status"] == "success" and res["data"]["result"], res
    assert res["data"]["result"][0]["value"][1] == "1"


@pytest.mark.parametrize("where,expr", queries())
def test_every_query_is_valid_and_has_data(stack, where, expr):
    res = None
    for _ in range(20):  # recording rules appear after their first evaluations
        res = prom_query(stack, expr)
        assert res["status"] == "success", f"{where}: {res.get('error')}"
        if res["data"]["result"]:
            return
        time.sleep(0.5)
    pytest.fail(f"{where}: no series after traffic for {expr}")


def test_no_alert_fires_on_a_healthy_service(stack):
    time.sleep(2)
    res = prom_query(stack, 'ALERTS{alertstate="firing"}')
    assert res["status"] == "success"
    assert res["data"]["result"] == [], res["data"]["result"]

"""Shared pieces of the Python benchmark drivers in test/bench (standard library only): free
ports, plain HTTP calls, waiting for a log line, child processes of the loraplane binary, a
private Kafka broker and the core roles (gateway, validate worker, storage node) on it."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("LORAPLANE_BINARY", os.path.join(ROOT, "build", "bin", "loraplane"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(port, method, path, body=None, headers=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    c.request(method, path, body=data, headers=headers or {})
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, out


def wait_line(path, needle, timeout=60, who="bench"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
            if needle in text:
                return text
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    tail = open(path, errors="replace").read()[-3000:] if os.path.exists(path) else "(no log)"
    sys.exit(f"{who}: no '{needle}' in {path}:\n{tail}")


def pct(xs, q):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Procs:
    """Named child processes, each logging to its own file; stop() sends SIGTERM, then SIGKILL."""

    def __init__(self):
        self.procs = {}

    def start(self, name, args, log, cwd=None, env=None, binary=True):
        f = open(log, "ab")
        argv = ([BIN] + args) if binary else args
        self.procs[name] = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        return self.procs[name]

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p is None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)


class Cluster:
    """A Kafka broker (LORAPLANE_KAFKA, or a private one under work/kafka) with the core roles
    as separate processes: gateway, validate worker, storage node. Topics get a fresh prefix."""

    def __init__(self, work, procs, name="bench", gateway_args=()):
        self.work, self.procs, self.own_kafka = work, procs, False
        self.kafka = os.environ.get("LORAPLANE_KAFKA")
        if not self.kafka:
            self.own_kafka = True
            subprocess.run([os.path.join(ROOT, "ops", "kafka", "start"), "--dir", f"{work}/kafka"],
                           check=True, stdout=subprocess.DEVNULL)
            env = open(f"{work}/kafka/broker.env").read()
            self.kafka = re.search(r"LORAPLANE_KAFKA=(\S+)", env).group(1)
        self.common = ["--topic-prefix", f"{name}-{int(time.time())}-{os.getpid()}."]
        self.token = f"{name}-{os.getpid()}{int(time.time())}"
        os.environ["LORAPLANE_ADMIN_TOKEN"] = self.token
        os.makedirs(f"{work}/gw", exist_ok=True)
        procs.start("gateway", self.common + ["gateway", "--kafka", self.kafka, "--port", "0", *gateway_args],
                    f"{work}/gateway.log", cwd=f"{work}/gw")
        procs.start("validate", self.common + ["worker", "--role", "validate", "--kafka", self.kafka, "--port", "0"],
                    f"{work}/validate.log")
        procs.start("distribute", self.common + ["worker", "--role", "distribute", "--kafka", self.kafka,
                                                 "--data-dir", f"{work}/storage", "--port", "0"],
                    f"{work}/distribute.log")
        text = wait_line(f"{work}/gateway.log", "loraplane ready on", who=name)
        wait_line(f"{work}/validate.log", "taking jobs", who=name)
        wait_line(f"{work}/distribute.log", "serving blobs on", who=name)
        self.gateway = int(re.search(r"loraplane ready on http://127.0.0.1:(\d+)", text).group(1))

    def agent_args(self, engine_port, base, engine_id, data_dir, port, *extra):
        return self.common + ["worker", "--role", "agent", "--kafka", self.kafka,
                              "--engine", f"http://127.0.0.1:{engine_port}", "--base", base,
                              "--engine-id", engine_id, "--data-dir", data_dir, "--port", str(port), *extra]

    def tenant(self, name, tier="dedicated"):
        status, out = request(self.gateway, "POST", "/admin/v1/tenants", {"name": name, "tier": tier},
                              {"Authorization": f"Bearer {self.token}"})
        if status != 201:
            sys.exit(f"bench: creating tenant {name} answered {status}: {out[:300]!r}")
        return json.loads(out)["api_key"]

    def stop_kafka(self):
        if self.own_kafka:
            subprocess.run([os.path.join(ROOT, "ops", "kafka", "stop"), "--dir", f"{self.work}/kafka"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(port, key, adapter_id, who="bench", tries=12000):
    for _ in range(tries):
        _, st = request(port, "GET", f"/v1/adapters/{adapter_id}", headers={"Authorization": f"Bearer {key}"})
        status = json.loads(st)["status"]
        if status in ("ready", "failed"):
            break
        time.sleep(0.02)
    if status != "ready":
        sys.exit(f"{who}: {adapter_id} ended {status}: {st!r}")

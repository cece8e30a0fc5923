"""Plain-HTTP calls to a running loraplane, shared by the conformance suites."""

import json
import urllib.error
import urllib.request


def call(port, method, path, body=None, token=None, headers=None):
    """One request to 127.0.0.1:port; returns (status, parsed JSON body or {})."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")

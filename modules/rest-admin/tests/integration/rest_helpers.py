"""Helpers for the rest-admin integration tests: configs, a self-signed certificate, an HTTP(S)
client on the standard library, and the reference README's curl examples run verbatim.

Imported by the test_rest_*.py files next to it (Python puts the script's folder on sys.path).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess

import geopol_harness as h

USER, PASSWORD = "testuser", "testsecret"

# The reference README's custom.json example (GET /custom-settings shows it).
README_CUSTOM = {"data": [
    {"comment": "Allow only two countries and a maximum of 5 IP addresses",
     "sender": "christian@roessner.email", "ips": 5, "countries": 2},
    {"comment": "Allow at least 4 countries and go with the default IP address limit",
     "sender": "test1@example.com", "ips": 0, "countries": 4},
    {"comment": "Go with the default country limit, but allow up to 30 IP addresses",
     "sender": "test2@example.com", "ips": 30, "countries": 0},
]}


def require_tools():
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            raise h.PrerequisiteMissing(f"{tool} is not installed: {h.SETUP_HINT}")


def make_certificate(directory: str):
    """A self-signed certificate for localhost/127.0.0.1 and its key: (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def config(port: int, *, auth: bool = False, tls: bool = False, cert: str = "", key: str = "",
           custom: str | None = None, limits: dict | None = None, store: dict | None = None,
           rest: dict | None = None, server: dict | None = None, level: str = "info"):
    rest_section = {"name": "rest-admin", "address": "127.0.0.1", "port": port,
                    "basic-auth": auth, "tls": tls}
    if auth:
        rest_section.update({"username": USER, "password": PASSWORD})
    if tls:
        rest_section.update({"tls-cert": cert, "tls-key": key})
    rest_section.update(rest or {})
    limits_section = {"name": "limits", **(limits or {})}
    if custom is not None:
        limits_section["custom-settings"] = custom
    return {
        "server": {"listen": ["inet:127.0.0.1:0"], **(server or {})},
        "log": {"level": level},
        "modules": [
            {"name": "geoip", "database": h.geolite_city()},
            {"name": "memory-store", "state-file": "", **(store or {})},
            limits_section,
            rest_section,
        ],
    }


def write_custom(directory: str, doc=None) -> str:
    path = os.path.join(directory, "custom.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(README_CUSTOM if doc is None else doc, f, indent=2)
    return path


class Response:
    def __init__(self, status, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.text[:300]!r}>"


class Admin:
    """An HTTP(S) client for one rest-admin listener (a new connection per request)."""

    def __init__(self, port: int, *, tls: bool = False, auth: bool = False,
                 host: str = "127.0.0.1", timeout: float = 15.0):
        self.port, self.tls, self.host, self.timeout = port, tls, host, timeout
        self.auth = (USER, PASSWORD) if auth else None
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, body=None, *, content_type="application/json",
                auth=None, headers=None) -> Response:
        if self.tls:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=self.ctx)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        hdrs = dict(headers or {})
        creds = self.auth if auth is None else auth
        if creds:
            token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            hdrs["Authorization"] = "Basic " + token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            if content_type is not None:
                hdrs["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def wait_ready(self, timeout: float = 10.0):
        def ok():
            try:
                return self.get("/health").status in (200, 503)
            except OSError:
                return False
        h.wait_for(ok, timeout, interval=0.05, what=f"rest-admin on port {self.port}")


# ---------------------------------------------------------------------------------------------
# The reference README's REST examples, verbatim (only the port differs: the tests pick free
# ports). Three of its HTTPS examples carry typos (a stray '"' after the JSON, and one body
# that never closes); they are kept as written.

README_EXAMPLES = {
    "plain": [
        ("reload", 'curl "http://localhost:8080/reload"'),
        ("custom-settings", 'curl "http://localhost:8080/custom-settings" | jq'),
        ("unlock", """curl -d '{"key":"sender","value":"user@example.com"}' -H "Content-Type: application/json" -X POST "http://localhost:8080/remove\""""),
        ("query", """curl -d '{ "key": "client", "value": { "address": "1.2.3.4", "sender": "user@example.com" } }' -H "Content-Type: application/json" -X POST "http://localhost:8080/query\""""),
        ("update", """curl -d '{"data":[{ "sender":"christian@roessner.email","ips":3,"countries":1},{"sender":"test1@example.com","countries":1},{"sender":"test2@example.com","ips":20}]}' -H "Content-Type: application/json" -X PUT "http://localhost:8080/update\""""),
        ("modify", """curl -d '{"key":"sender","value":{"comment":"Test","sender":"christian@roessner.email","ips":100,"countries":100}}' -H "Content-Type: application/json" -X PATCH "http://localhost:8080/modify\""""),
        ("delete", """curl -d '{"key":"sender","value":"christian@roessner.email"}' -H "Content-Type: application/json" -X DELETE "http://localhost:8080/remove\""""),
    ],
    "plain-auth": [
        ("reload", 'curl "http://localhost:8080/reload" -u testuser:testsecret'),
        ("custom-settings", 'curl "http://localhost:8080/custom-settings" -u testuser:testsecret | jq'),
        ("unlock", """curl -d '{"key":"sender","value":"user@example.com"}' -H "Content-Type: application/json" -X POST "http://localhost:8080/remove" -u testuser:testsecret"""),
        ("query", """curl -d '{ "key": "client", "value": { "address": "1.2.3.4", "sender": "user@example.com" } }' -H "Content-Type: application/json" -X POST "http://localhost:8080/query" -u testuser:testsecret"""),
        ("update", """curl -d '{"data":[{ "sender":"christian@roessner.email","ips":3,"countries":1},{"sender":"test1@example.com","countries":1},{"sender":"test2@example.com","ips":20}]}' -H "Content-Type: application/json" -X PUT "http://localhost:8080/update" -u testuser:testsecret"""),
        ("modify", """curl -d '{"key":"sender","value":{"comment":"Test","sender":"christian@roessner.email","ips":100,"countries":100}}' -H "Content-Type: application/json" -X PATCH "http://localhost:8080/modify" -u testuser:testsecret"""),
        ("delete", """curl -d '{"key":"sender","value":"christian@roessner.email"}' -H "Content-Type: application/json" -X DELETE "http://localhost:8080/remove" -u testuser:testsecret"""),
    ],
    "https-auth": [
        ("reload", 'curl -k "https://localhost:8443/reload" -u testuser:testsecret'),
        ("custom-settings", 'curl -k "https://localhost:8443/custom-settings" -u testuser:testsecret | jq'),
        ("unlock", """curl -k -d '{"key":"sender","value":"user@example.com}"' -H "Content-Type: application/json" -X POST "https://localhost:8443/remove" -u testuser:testsecret"""),
        ("query", """curl -k -d '{ "key": "client", "value": { "address": "1.2.3.4", "sender": "user@example.com" } }' -H "Content-Type: application/json" -X POST "https://localhost:8443/query" -u testuser:testsecret"""),
        ("update", """curl -k -d '{"data":[{ "sender":"christian@roessner.email","ips":3,"countries":1},{"sender":"test1@example.com","countries":1},{"sender":"test2@example.com","ips":20}]}' -H "Content-Type: application/json" -X PUT "https://localhost:8443/update" -u testuser:testsecret"""),
        ("modify", """curl -k -d '{"key":"sender","value":{"comment":"Test","sender":"christian@roessner.email","ips":100,"countries":100}}"' -H "Content-Type: application/json" -X PATCH "https://localhost:8443/modify" -u testuser:testsecret"""),
        ("delete", """curl -k -d '{"key":"sender","value":"christian@roessner.email"}"' -H "Content-Type: application/json" -X DELETE "https://localhost:8443/remove" -u testuser:testsecret"""),
    ],
}


def run_curl_example(command: str, port: int, tmpdir: str):
    """Runs one README command (port replaced) through the shell; returns (status, body, jq).

    The status and body are captured with extra curl options appended to the verbatim command;
    a trailing `| jq` is run on the captured body, as the README pipes it."""
    command = re.sub(r"localhost:(8080|8443)", f"localhost:{port}", command)
    jq = command.endswith("| jq")
    if jq:
        command = command[: -len("| jq")].rstrip()
    body_file = os.path.join(tmpdir, "curl-body")
    full = f"{command} -sS -o {shlex.quote(body_file)} -w '%{{http_code}}'"
    r = subprocess.run(["bash", "-c", full], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"curl failed ({r.returncode}): {full}\n{r.stderr}")
    with open(body_file, "rb") as f:
        body = f.read()
    jq_out = None
    if jq:
        # The README pipes into jq to pretty-print; scripts/setup does not
        # install jq, so Python's json.tool stands in when it is missing.
        pretty = ["jq"] if shutil.which("jq") else ["python3", "-m", "json.tool"]
        p = subprocess.run(pretty, input=body, capture_output=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"jq could not read the body {body!r}: {p.stderr!r}")
        jq_out = p.stdout.decode()
    return int(r.stdout.strip() or 0), body, jq_out

"""SMTP servers for integration tests: a real one (aiosmtpd) and two broken ones.

Python 3 standard library on the test side. The real server is Debian's python3-aiosmtpd,
which is installed for /usr/bin/python3 only (the python3 on PATH may be another one), so it
runs as a child process of that interpreter (smtp_sink_server.py) and saves every message it
accepts to a temp dir that the test reads.

    sink = smtp_harness.start_sink(self)                 # plain SMTP on a free port
    sink = smtp_harness.start_sink(self, mode="starttls", cert=c, key=k, require_starttls=True)
    msgs = sink.wait_for_messages(1)                     # [ReceivedMessage]
    msgs[0].message["Subject"], msgs[0].body, msgs[0].rcpt_tos, msgs[0].tls

SilentServer accepts connections and never sends a byte; StallAfterDataServer speaks SMTP
until the end of the message and then never answers. Both run in a thread of the test.
Everything is stopped by the test's cleanup (children by PID) and at interpreter exit.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import geopol_harness as h

SYSTEM_PYTHON = "/usr/bin/python3"
SINK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_sink_server.py")
SETUP_HINT = h.SETUP_HINT


def require_aiosmtpd() -> None:
    h.require_file(SYSTEM_PYTHON, "the system python3 (for python3-aiosmtpd)")
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import aiosmtpd.smtp"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise h.PrerequisiteMissing(
            f"python3-aiosmtpd is not importable by {SYSTEM_PYTHON} "
            f"({r.stdout.decode(errors='replace').strip()[-200:]}): {SETUP_HINT}")


def make_certificate(directory: str, name: str = "sink") -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) paths.
    The certificate is its own CA, so it doubles as tls-ca-file."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise h.PrerequisiteMissing(f"openssl not found: {SETUP_HINT}")
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    r = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl failed: {r.stdout.decode(errors='replace')}")
    return cert, key


class ReceivedMessage:
    """One message as the sink received it: envelope, session facts and the parsed message."""

    def __init__(self, record: dict):
        self.record = record
        self.mail_from: str = record["mail_from"]
        self.rcpt_tos: list = record["rcpt_tos"]
        self.raw: bytes = base64.b64decode(record["data_b64"])
        self.helo: str = record["helo"]
        self.tls: bool = record["tls"]
        self.tls_version = record["tls_version"]
        self.authenticated: bool = record["authenticated"]
        self.login = record["login"]
        self.auth_mechanism = record["auth_mechanism"]
        # policy.default decodes RFC 2047 headers and transfer encodings.
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def body(self) -> str:
        """The decoded body with "\n" line ends (SMTP's CRLF survives email's decoding)."""
        return self.message.get_content().replace("\r\n", "\n")

    def raw_headers(self) -> str:
        return self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")

    def raw_body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1]


class SmtpSink(h.LogFile):
    """aiosmtpd in a child /usr/bin/python3 on 127.0.0.1 (port 0: a free one)."""

    STARTUP_TIMEOUT = 15.0
    default_tail_lines = 40

    def __init__(self, mode: str = "plain", cert: str | None = None, key: str | None = None,
                 require_starttls: bool = False, auth: tuple[str, str] | None = None,
                 auth_over_plain: bool = False, port: int = 0):
        self.mode = mode
        self.cert, self.key = cert, key
        self.require_starttls = require_starttls
        self.auth = auth
        self.auth_over_plain = auth_over_plain
        self.requested_port = port
        self.port = 0
        self.host = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="geopol-smtp-")
        self.messages_dir = os.path.join(self.dir, "messages")
        os.mkdir(self.messages_dir)
        self.log_path = os.path.join(self.dir, "sink.log")
        self.proc: subprocess.Popen | None = None
        self._saved_log: str | None = None

    def start(self) -> "SmtpSink":
        require_aiosmtpd()
        cmd = [SYSTEM_PYTHON, SINK_SCRIPT, "--dir", self.messages_dir,
               "--port", str(self.requested_port), "--mode", self.mode]
        if self.mode != "plain":
            cmd += ["--cert", self.cert, "--key", self.key]
        if self.require_starttls:
            cmd.append("--require-starttls")
        if self.auth:
            cmd += ["--auth", f"{self.auth[0]}:{self.auth[1]}"]
        if self.auth_over_plain:
            cmd.append("--auth-over-plain")
        log = open(self.log_path, "ab")
        try:
            # The system interpreter, with a clean Python environment: the test's PYTHONPATH
            # and pyenv's variables belong to another Python.
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV"))}
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, env=env, cwd=self.dir,
                                         preexec_fn=h._die_with_parent)
        finally:
            log.close()
        h._register(self)
        deadline = time.monotonic() + self.STARTUP_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                self.kill()
                raise AssertionError(f"SMTP sink did not start ({' '.join(cmd)})\n{self.log_tail()}")
            r, _, _ = select.select([self.proc.stdout], [], [], min(remaining, 0.2))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    continue
                line += chunk
        if not line.startswith(b"READY "):
            self.kill()
            raise AssertionError(f"SMTP sink said {line!r}\n{self.log_tail()}")
        self.port = int(line.split()[1])
        return self

    # -- messages
    def records(self) -> list:
        out = []
        for name in sorted(os.listdir(self.messages_dir)):
            if name.endswith(".json"):
                with open(os.path.join(self.messages_dir, name), encoding="utf-8") as f:
                    out.append(json.load(f))
        return out

    def messages(self) -> list:
        return [ReceivedMessage(r) for r in self.records()]

    def count(self) -> int:
        return sum(1 for n in os.listdir(self.messages_dir) if n.endswith(".json"))

    def wait_for_messages(self, n: int, timeout: float = 15.0) -> list:
        h.wait_for(lambda: self.count() >= n, timeout, what=f"{n} message(s) at the SMTP sink")
        return self.messages()

    # -- lifecycle (the shape GeopolTestCase._cleanup_artifact expects)
    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        h._unregister(self)

    def close(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self.kill()
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        return f"SMTP sink ({self.mode}) on {self.host}:{self.port} in {self.dir}"


def start_sink(test: h.GeopolTestCase, **kw) -> SmtpSink:
    sink = SmtpSink(**kw)
    test.addCleanup(test._cleanup_artifact, sink)
    sink.start()
    return sink


class _ThreadServer:
    """A listening socket on 127.0.0.1 served by a thread; close() ends it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.host, self.port = self.sock.getsockname()
        self.accepted = 0
        self.dir = ""
        self._conns: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.sock] + self._conns, [], [], 0.1)
            for s in r:
                if s is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except OSError:
                        continue
                    self.accepted += 1
                    self._conns.append(conn)
                    self.on_accept(conn)
                else:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._conns.remove(s)
                        s.close()
                    else:
                        self.on_data(s, data)

    def on_accept(self, conn):
        pass

    def on_data(self, conn, data):
        pass

    def close(self):
        self._stop.set()
        self._thread.join(5)
        for c in self._conns:
            c.close()
        self.sock.close()

    def log_tail(self, lines: int = 40) -> str:
        return f"accepted {self.accepted} connection(s)"

    def describe(self) -> str:
        return f"{type(self).__name__} on {self.host}:{self.port}"


class SilentServer(_ThreadServer):
    """Accepts every connection and never sends anything (a hung mail server)."""


class StallAfterDataServer(_ThreadServer):
    """Answers like an SMTP server until the end of the message, then never again."""

    def __init__(self):
        self._buffers: dict = {}
        self._in_data: dict = {}
        self.stalled = 0
        super().__init__()

    def on_accept(self, conn):
        self._buffers[conn] = b""
        self._in_data[conn] = False
        conn.sendall(b"220 stall.geopol-test.invalid ESMTP\r\n")

    def on_data(self, conn, data):
        buf = self._buffers.get(conn, b"") + data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if self._in_data.get(conn):
                if line == b".":
                    self._in_data[conn] = False
                    self.stalled += 1  # and no reply, ever
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-stall.geopol-test.invalid\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self._in_data[conn] = True
                conn.sendall(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
            else:
                conn.sendall(b"250 ok\r\n")
        self._buffers[conn] = buf


def start_thread_server(test: h.GeopolTestCase, cls):
    server = cls()
    test.addCleanup(server.close)
    return server


# ---------------------------------------------------------------------------------------------
# geopold configurations and requests for operator-mail tests

def geopol_config(mail: dict | None = None, *, force_user_known: bool = True,
                  max_countries: int = 1, level: str = "info") -> dict:
    """geoip + memory-store (no state file) + limits (+ operator-mail with both switches on)."""
    cfg = {
        "server": {"listen": ["inet:127.0.0.1:0"], "force-user-known": force_user_known},
        "log": {"level": level},
        "modules": [
            {"name": "geoip", "database": h.geolite_city()},
            {"name": "memory-store", "state-file": ""},
            {"name": "limits", "max-countries": max_countries},
        ],
    }
    if mail is not None:
        section = {"name": "operator-mail", "run-actions": True, "run-action-operator": True}
        section.update(mail)
        cfg["modules"].append(section)
    return cfg


def mail_section(sink, **kw) -> dict:
    """operator-mail keys for a server on sink.host:sink.port (anything with host and port)."""
    section = {
        "from": "geopol@mx.geopol-test.invalid",
        "to": "ops@example.org",
        "server-address": sink.host,
        "server-port": sink.port,
        "helo": "mx.geopol-test.invalid",
    }
    section.update(kw)
    return section


def block_account(client, account: str, countries=("US", "GB")) -> list:
    """Requests for `account` from one IP of each country; with max-countries 1 the second
    one blocks it. Returns the actions."""
    return [client.policy_request(sender=account, client_address=h.GEO_IPS[c]) for c in countries]


def timed_request(client, account: str, country: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    action = client.policy_request(sender=account, client_address=h.GEO_IPS[country])
    return action, time.perf_counter() - t0


def latency_summary(samples: list) -> str:
    s = sorted(samples)
    if not s:
        return "no samples"
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return (f"n={len(s)} median={pick(0.5) * 1000:.2f}ms p99={pick(0.99) * 1000:.2f}ms "
            f"max={s[-1] * 1000:.2f}ms")

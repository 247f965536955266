"""Real redis-server and redis-sentinel processes for the integration tests.

Python 3 standard library only, like geopol_harness. Every server runs on a free loopback
port in its own temp dir and is killed by PID by the test's cleanup, at interpreter exit, or
when the test process dies (PR_SET_PDEATHSIG). A missing binary fails the test (never a skip).

Typical use:

    class T(redis_harness.RedisTestCase):
        def test_x(self):
            redis = self.start_redis()
            d = self.start_geopold(redis_harness.geo_config(redis, max_countries=3))
            ...
            self.assertIn("US", redis.get_json("geopol_alice@example.com")["ForeignCountries"])
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import geopol_harness as h

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_SENTINEL = "/usr/bin/redis-sentinel"
REDIS_HINT = "apt-get install redis-server redis-sentinel (scripts/setup installs them)"


class RedisError(Exception):
    """An error reply (-ERR ...)."""


# ---------------------------------------------------------------------------------------------
# A minimal RESP2 client


class RespClient:
    """One blocking connection; cmd() sends a command and returns the decoded reply."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0,
                 username: str | None = None, password: str | None = None, db: int = 0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        if password is not None:
            self.cmd("AUTH", *([username] if username else []), password)
        if db:
            self.cmd("SELECT", db)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cmd(self, *args):
        out = bytearray(b"*%d\r\n" % len(args))
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(b), b)
        self.sock.sendall(out)
        reply = self._read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            items = []
            for _ in range(n):
                item = self._read()
                if isinstance(item, RedisError):
                    item = str(item)
                items.append(item)
            return items
        raise AssertionError(f"bad RESP line {line!r}")


# ---------------------------------------------------------------------------------------------
# Servers


def _require_binary(path: str) -> str:
    if not os.access(path, os.X_OK):
        raise h.PrerequisiteMissing(f"{path} not found: {REDIS_HINT}")
    return path


class _Process(h.LogFile):
    """Shared bookkeeping: temp dir, log file, start/stop by PID, harness registration."""

    STARTUP_TIMEOUT = 10.0
    kind = "redis"
    default_tail_lines = 40

    def __init__(self, port: int | None):
        self.dir = tempfile.mkdtemp(prefix=f"geopol-{self.kind}-")
        self.fixed_port = port is not None
        self.port = port or h.free_port()
        self.log_path = os.path.join(self.dir, f"{self.kind}.log")
        self.proc: subprocess.Popen | None = None
        self._saved_log: str | None = None

    def command(self) -> list:
        raise NotImplementedError

    def start(self):
        """Starts the server; a port picked by free_port() that another test took meanwhile
        is replaced by a new one (a port given by the caller is not)."""
        for attempt in range(3):
            try:
                self._start_once()
                self.fixed_port = True  # a restart must come back where clients expect it
                return self
            except AssertionError as e:
                if self.fixed_port or "Address already in use" not in str(e) or attempt == 2:
                    raise
                self.port = h.free_port()
                self.on_new_port()
        return self

    def on_new_port(self) -> None:
        """Hook for subclasses whose configuration names the port."""

    def _start_once(self):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.describe()} is already running")
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self._log_offset = offset
        self.proc = h.spawn_logged(self, self.command(), self.log_path, self.dir)

        def answers() -> bool:
            try:
                with RespClient(self.port, timeout=0.5) as c:
                    c.cmd("PING")
                return True
            except RedisError:
                return True  # NOAUTH: up, but the default user is off
            except OSError:
                return False

        h.wait_started(self, answers, self.STARTUP_TIMEOUT,
                       lambda why: f"{self.describe()} {why} ({' '.join(self.command())})\n"
                                   f"{h.tail(self._read_log()[self._log_offset:])}")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        h._unregister(self)

    def restart(self):
        """SIGKILL, then start again on the same port (with no data)."""
        self.kill()
        return self.start()

    def close(self) -> None:
        try:
            self.kill()
        finally:
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, **kw) -> RespClient:
        return RespClient(self.port, **kw)

    def cmd(self, *args, **kw):
        """One command on a fresh connection."""
        with self.client(**kw) as c:
            return c.cmd(*args)

    def describe(self) -> str:
        return f"{self.kind} on 127.0.0.1:{self.port} (pid {self.pid}) in {self.dir}"


class RedisServer(_Process):
    """redis-server --port P --bind 127.0.0.1 --save '' --appendonly no --dir TMP [args]."""

    kind = "redis"

    def __init__(self, args=(), port: int | None = None, start: bool = True):
        _require_binary(REDIS_SERVER)
        super().__init__(port)
        self.args = list(args)
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    def command(self) -> list:
        return [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--logfile", self.log_path,
                "--daemonize", "no"] + self.args

    def get_json(self, key: str, **kw):
        """GET key, decoded as JSON; None if the key does not exist."""
        raw = self.cmd("GET", key, **kw)
        return None if raw is None else json.loads(raw)

    def role(self) -> str:
        return self.cmd("ROLE")[0]


class RedisSentinel(_Process):
    """redis-sentinel monitoring one master as `name`, quorum 1, fast timeouts."""

    kind = "sentinel"

    def __init__(self, master_port: int, name: str = "mymaster", port: int | None = None,
                 down_after_ms: int = 1000, failover_timeout_ms: int = 5000,
                 start: bool = True):
        _require_binary(REDIS_SENTINEL)
        super().__init__(port)
        self.name = name
        self.conf = os.path.join(self.dir, "sentinel.conf")
        self.settings = (master_port, down_after_ms, failover_timeout_ms)
        self.on_new_port()
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    def on_new_port(self) -> None:
        # Sentinel rewrites its file as it learns; a fresh one for each start-up attempt.
        master_port, down_after_ms, failover_timeout_ms = self.settings
        name = self.name
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"port {self.port}\n"
                    f"bind 127.0.0.1\n"
                    f"daemonize no\n"
                    f"dir {self.dir}\n"
                    f"logfile {self.log_path}\n"
                    f"sentinel monitor {name} 127.0.0.1 {master_port} 1\n"
                    f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
                    f"sentinel failover-timeout {name} {failover_timeout_ms}\n"
                    f"sentinel parallel-syncs {name} 1\n")

    def command(self) -> list:
        return [REDIS_SENTINEL, self.conf]

    def master_port(self) -> int | None:
        reply = self.cmd("SENTINEL", "get-master-addr-by-name", self.name)
        return int(reply[1]) if reply else None

    def healthy_replicas(self) -> list:
        """Ports of the replicas Sentinel sees up and in sync."""
        out = []
        for fields in self.cmd("SENTINEL", "replicas", self.name) or []:
            d = dict(zip(fields[0::2], fields[1::2]))
            flags = d.get("flags", "")
            if ("s_down" not in flags and "o_down" not in flags and "disconnected" not in flags
                    and d.get("master-link-status") == "ok"):
                out.append(int(d["port"]))
        return out


# ---------------------------------------------------------------------------------------------
# geopold configuration and test case


def geo_config(redis: RedisServer | None = None, *, store: dict | None = None, log_level="info",
               server: dict | None = None, **limits) -> dict:
    """geoip -> redis-store -> limits, listening on a free port. `store` adds or overrides
    redis-store keys; `limits` keys use Python names (max_countries=3)."""
    redis_store = {"name": "redis-store"}
    if redis is not None:
        redis_store["port"] = redis.port
    redis_store.update(store or {})
    srv = {"listen": ["inet:127.0.0.1:0"]}
    srv.update(server or {})
    return {
        "server": srv,
        "log": {"level": log_level},
        "modules": [
            {"name": "geoip", "database": h.geolite_city()},
            redis_store,
            {"name": "limits", **{k.replace("_", "-"): v for k, v in limits.items()}},
        ],
    }


class RedisTestCase(h.GeopolTestCase):
    """GeopolTestCase plus Redis servers and Sentinels with cleanup and log tails on failure."""

    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        _require_binary(REDIS_SERVER)

    def start_redis(self, args=(), port: int | None = None) -> RedisServer:
        r = RedisServer(args, port=port, start=False)
        self.addCleanup(self._cleanup_artifact, r)
        r.start()
        return r

    def start_sentinel(self, master: RedisServer, **kw) -> RedisSentinel:
        s = RedisSentinel(master.port, start=False, **kw)
        self.addCleanup(self._cleanup_artifact, s)
        s.start()
        return s


def count(text: str, needle: str) -> int:
    return sum(1 for line in text.splitlines() if needle in line)

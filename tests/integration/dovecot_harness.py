"""A private Dovecot (IMAP only) for the tests of rest-admin's POST /dovecotpolicy.

Python 3 standard library only, like geopol_harness. Each Dovecot runs as root in its own
temp dir (its own base_dir, state_dir and log file) with IMAP on a free 127.0.0.1 port, no
TLS, plaintext logins, and a passwd-file of test users with plain passwords. Its auth policy
client points at the URL given (geopold's rest-admin). 127.0.0.0/8 is a trusted network, so
an IMAP `ID ("x-originating-ip" "81.2.69.142")` sent before LOGIN makes Dovecot use that
address as the client's (%{rip}): one test machine can log in "from" any country.

The master is stopped by its PID (test cleanup, interpreter exit, or meson's SIGTERM through
geopol_harness); it stops its children. A missing dovecot binary, or a test not run as root,
fails with geopol_harness.PrerequisiteMissing: never a skip.

    dc = dovecot_harness.start_dovecot(self, policy_url, auth=("user", "secret"))
    dc.login("alice@example.com", from_ip="8.8.8.8")   # True (OK) or False (NO)
"""

from __future__ import annotations

import base64
import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import time

import geopol_harness as h

DOVECOT = "/usr/sbin/dovecot"
DOVECOT_HINT = "apt-get install dovecot-imapd (scripts/setup installs it)"

# Users of the passwd-file, all with this password.
PASSWORD = "imap-secret"
USERS = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
# The mail processes run as this user (any unprivileged one will do: no mail is read).
MAIL_USER = "nobody"


def require_dovecot() -> None:
    if not os.access(DOVECOT, os.X_OK):
        raise h.PrerequisiteMissing(f"{DOVECOT} not found: {DOVECOT_HINT}")
    if os.geteuid() != 0:
        raise h.PrerequisiteMissing("a private Dovecot needs root: run the integration tests "
                                    "as root")
    for user in ("dovecot", "dovenull", MAIL_USER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise h.PrerequisiteMissing(f"user {user!r} does not exist: {DOVECOT_HINT}") from None


class Dovecot(h.LogFile):
    STARTUP_TIMEOUT = 15.0
    default_tail_lines = 80

    def __init__(self, policy_url: str, *, api_header: str = "", before_auth: bool = True,
                 after_auth: bool = True, reject_on_fail: bool = False,
                 extra: dict | None = None):
        require_dovecot()
        self.dir = h._make_tempdir("geopol-dovecot-")  # 0755: dovenull must reach base_dir
        self.port = h.free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.proc: subprocess.Popen | None = None
        self._saved_log: str | None = None
        mail = pwd.getpwnam(MAIL_USER)
        home = os.path.join(self.dir, "home")
        os.mkdir(home, 0o755)
        os.chown(home, mail.pw_uid, mail.pw_gid)
        with open(os.path.join(self.dir, "passwd"), "w", encoding="utf-8") as f:
            for user in USERS:
                f.write(f"{user}:{{PLAIN}}{PASSWORD}:{mail.pw_uid}:{mail.pw_gid}::"
                        f"{home}/{user}\n")
        settings = {
            "base_dir": os.path.join(self.dir, "run"),
            "state_dir": os.path.join(self.dir, "state"),
            "instance_name": f"geopol-test-{self.port}",
            "log_path": self.log_path,
            "protocols": "imap",
            "listen": "127.0.0.1",
            "ssl": "no",
            "disable_plaintext_auth": "no",
            "auth_mechanisms": "plain login",
            "auth_failure_delay": "0",  # answer a refused login at once
            "auth_verbose": "yes",
            "auth_debug": "yes",  # logs the policy request's JSON
            "first_valid_uid": str(mail.pw_uid),
            "last_valid_uid": str(mail.pw_uid),
            "first_valid_gid": "1",
            "mail_location": f"maildir:{home}/%u/Maildir",
            "login_trusted_networks": "127.0.0.0/8",
            "auth_policy_server_url": policy_url,
            "auth_policy_hash_nonce": "geopol-test-nonce",
            "auth_policy_server_api_header": api_header,
            "auth_policy_check_before_auth": "yes" if before_auth else "no",
            "auth_policy_check_after_auth": "yes" if after_auth else "no",
            "auth_policy_reject_on_fail": "yes" if reject_on_fail else "no",
            **(extra or {}),
        }
        lines = [f"{k} = {v}" for k, v in settings.items()]
        lines += [
            "passdb {", "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {self.dir}/passwd", "}",
            "userdb {", "  driver = passwd-file",
            f"  args = username_format=%u {self.dir}/passwd", "}",
            "service imap-login {",
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}",
            "  inet_listener imaps {\n    port = 0\n  }", "}",
            # The policy URL may be http://: no DNS, no TLS needed.
        ]
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def start(self) -> "Dovecot":
        self.proc = h.spawn_logged(self, [DOVECOT, "-F", "-c", self.conf],
                                   os.path.join(self.dir, "master-stderr.log"), self.dir)
        def answers() -> bool:
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=2).logout()
                return True
            except OSError:
                return False

        h.wait_started(self, answers, self.STARTUP_TIMEOUT,
                       lambda why: f"dovecot on 127.0.0.1:{self.port} {why}\n{self._stderr()}\n"
                                   f"{self.log_tail()}")
        return self

    def _stderr(self) -> str:
        try:
            with open(os.path.join(self.dir, "master-stderr.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def login(self, user: str, password: str = PASSWORD, *, from_ip: str | None = None) -> bool:
        """One IMAP connection: ID with x-originating-ip (if given), LOGIN, LOGOUT. True when
        Dovecot accepted the login, False when it said NO."""
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=15)
        try:
            if from_ip is not None:
                # Before LOGIN, from a trusted network: Dovecot takes it as the client's IP.
                typ, _ = imap.xatom("ID", f'("x-originating-ip" "{from_ip}")')
                if typ != "OK":
                    raise AssertionError(f"IMAP ID was refused: {typ}")
            try:
                imap.login(user, password)
            except imaplib.IMAP4.error as e:
                self.last_refusal = str(e)
                return False
            return True
        finally:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its children
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        h._unregister(self)

    def close(self) -> None:
        try:
            self.kill()
        finally:
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        return f"dovecot on 127.0.0.1:{self.port} (pid {self.pid}) in {self.dir}"


def basic_auth_header(user: str, password: str) -> str:
    """The auth_policy_server_api_header value that sends these credentials."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def start_dovecot(test, policy_url: str, **kw) -> Dovecot:
    """A started Dovecot, closed by the test's cleanup (its log tail shown if the test failed);
    `test` is a geopol_harness.GeopolTestCase."""
    d = Dovecot(policy_url, **kw)
    test.addCleanup(test._cleanup_artifact, d)
    d.start()
    return d

"""Private slapd instances (and a test CA) for the ldap-alias integration tests.

Python 3 standard library only, like geopol_harness. Each Slapd runs in its own temp dir on
free 127.0.0.1 ports with a generated cn=config, a small test directory and, if asked, TLS
with certificates from a throwaway CA made with openssl. Every process is stopped by its PID
(test cleanup, interpreter exit, or meson's SIGTERM through geopol_harness).

A missing slapd, slapadd, openssl or schema file fails with geopol_harness.PrerequisiteMissing
and a hint to run scripts/setup; nothing is ever skipped.

    ca = ldap_harness.TestCA(self)            # removed at cleanup
    ldap = ldap_harness.start_slapd(self, access="bind", tls=ca, require_tls=True)
    ldap.uri                                  # "ldap://127.0.0.1:PORT/"
    ldap.pause(); ldap.resume(); ldap.kill(); ldap.start()   # same ports again

The directory (BASE_DN dc=example,dc=com) is described by the constants below.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

import geopol_harness as h

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
OPENSSL = "/usr/bin/openssl"
SCHEMA_DIR = "/etc/ldap/schema"
SLAPD_MODULE_DIR = "/usr/lib/ldap"

BASE_DN = "dc=example,dc=com"
PEOPLE_DN = "ou=people," + BASE_DN
ADMIN_DN = "cn=admin," + BASE_DN
ADMIN_PW = "admin-secret"
READER_DN = "cn=reader," + BASE_DN
READER_PW = "reader-secret"
CLIENT_CERT_DN = "cn=geopol-client"  # the identity SASL EXTERNAL yields for the client cert
PEERCRED_ROOT_DN = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

# The test directory. mailAlias/mailAccount live on the auxiliary class geopolMailUser
# (custom schema below); every entry has a fixed entryUUID.
ACCOUNT = "unique@account.net"  # user1's account; its aliases:
ALIASES = ["user1@example.com", "foo@bar.org"]
USER1_UUID = "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c01"
USER2 = "user2@example.com"  # an alias of itself, account user2-account@example.com
USER2_ACCOUNT = "user2-account@example.com"
MULTI = "multi@example.com"  # one entry, two mailAccount values (in this order)
MULTI_VALUES = ["zeta@account.net", "alpha@account.net"]
SHARED = "shared@example.com"  # an alias on two entries
NO_ACCOUNT = "noaccount@example.com"  # an entry with the alias but no mailAccount
STAR_ALIAS = "*)(uid=*"  # an alias made of filter syntax: only an escaped filter finds it
STAR_ACCOUNT = "star-account@example.com"
MIXED_CASE_ACCOUNT = "Mixed.Case@Account.NET"
MIXED = "mixed@example.com"

_SCHEMA_LDIF = """\
dn: cn=geopol,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: geopol
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'mailAlias'
  DESC 'an address this account sends as' EQUALITY caseIgnoreIA5Match
  SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.99.2 NAME 'mailAccount'
  DESC 'the account an alias belongs to' EQUALITY caseIgnoreIA5Match
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
olcObjectClasses: ( 1.3.6.1.4.1.4203.666.11.99.3 NAME 'geopolMailUser'
  DESC 'mail aliases of an account' SUP top AUXILIARY MAY ( mailAlias $ mailAccount ) )
"""


def _user(uid: str, uuid: str, aliases, accounts) -> str:
    lines = [f"dn: uid={uid},{PEOPLE_DN}", "objectClass: inetOrgPerson",
             "objectClass: geopolMailUser", f"uid: {uid}", f"cn: {uid}", f"sn: {uid}",
             f"entryUUID: {uuid}"]
    lines += [f"mailAlias: {a}" for a in aliases]
    lines += [f"mailAccount: {a}" for a in accounts]
    return "\n".join(lines) + "\n\n"


def _data_ldif() -> str:
    out = f"""\
dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
dc: example
o: Example
entryUUID: 6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1000

dn: {PEOPLE_DN}
objectClass: organizationalUnit
ou: people
entryUUID: 6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1001

dn: {READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {READER_PW}
entryUUID: 6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1002

"""
    out += _user("user1", USER1_UUID, ALIASES, [ACCOUNT])
    out += _user("user2", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c02", [USER2], [USER2_ACCOUNT])
    out += _user("multi", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c03", [MULTI], MULTI_VALUES)
    out += _user("shared-a", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c04", [SHARED],
                 ["shared-a@account.net"])
    out += _user("shared-b", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c05", [SHARED],
                 ["shared-b@account.net"])
    out += _user("noaccount", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c06", [NO_ACCOUNT], [])
    out += _user("star", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c07", [STAR_ALIAS], [STAR_ACCOUNT])
    out += _user("mixed", "6f1c3b8e-2a4d-4c1e-9b7a-0d5e8f3a1c08", [MIXED], [MIXED_CASE_ACCOUNT])
    return out


def require_slapd() -> None:
    """Fails (never skips) with the setup hint when slapd or its parts are missing."""
    h.require_file(SLAPD, "slapd (Debian package slapd)")
    h.require_file(SLAPADD, "slapadd (Debian package slapd)")
    for schema in ("core", "cosine", "inetorgperson", "nis"):
        h.require_file(os.path.join(SCHEMA_DIR, schema + ".ldif"), f"OpenLDAP schema {schema}.ldif")
    h.require_file(os.path.join(SLAPD_MODULE_DIR, "back_mdb.la"), "slapd's back_mdb module")
    if os.geteuid() != 0:
        raise h.PrerequisiteMissing("a private slapd needs root here: run the integration tests "
                                    "as root")


def _run(cmd, what: str, cwd: str | None = None) -> str:
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, cwd=cwd, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{out}")
    return out


# ---------------------------------------------------------------------------------------------
# A throwaway certificate authority


class TestCA:
    """A CA with a server certificate for 127.0.0.1 (IP SAN) and localhost, and a client
    certificate whose subject is CLIENT_CERT_DN. ECDSA P-256, valid for two days.

    name: the CA's common name (two TestCAs with different names do not trust each other).
    """

    def __init__(self, testcase=None, name: str = "geopol test CA"):
        h.require_file(OPENSSL, "openssl")
        self.dir = h._make_tempdir("geopol-ca-")
        if testcase is not None:
            testcase.addCleanup(self.close)
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.server_cert = os.path.join(self.dir, "server.pem")
        self.server_key = os.path.join(self.dir, "server.key")
        self.client_cert = os.path.join(self.dir, "client.pem")
        self.client_key = os.path.join(self.dir, "client.key")
        try:
            self._make(name)
        except BaseException:
            self.close()
            raise

    def _key(self, path: str) -> None:
        _run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-out", path], "openssl genpkey")
        os.chmod(path, 0o600)

    def _make(self, name: str) -> None:
        self._key(self.ca_key)
        _run([OPENSSL, "req", "-x509", "-new", "-key", self.ca_key, "-subj", f"/CN={name}",
              "-days", "2", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.ca_cert],
             "openssl req (CA)")
        self._issue(self.server_key, self.server_cert, "/CN=127.0.0.1",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
        self._issue(self.client_key, self.client_cert, "/CN=geopol-client",
                    "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")

    def _issue(self, key: str, cert: str, subject: str, extensions: str) -> None:
        self._key(key)
        csr = cert + ".csr"
        ext = cert + ".ext"
        with open(ext, "w", encoding="utf-8") as f:
            f.write(extensions)
        _run([OPENSSL, "req", "-new", "-key", key, "-subj", subject, "-out", csr], "openssl req")
        _run([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
              "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", cert],
             "openssl x509 -req")

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# slapd


class Slapd(h.LogFile):
    """A private slapd with the test directory.

    access: "anonymous" (everyone may read), or "bind" (anonymous reads denied, so an
            anonymous search gets error 32; READER_DN/READER_PW, the client certificate's
            identity and root over ldapi may read).
    tls: a TestCA: slapd gets its server certificate, also listens on ldaps://, and asks for
         (but does not demand) a client certificate.
    require_tls: olcSecurity tls=1: every operation before StartTLS is refused (error 13).
    ldapi: also listen on a unix socket (ldapi_uri), for SASL EXTERNAL by peer credentials.
    """

    STARTUP_TIMEOUT = 15.0

    def __init__(self, *, access: str = "anonymous", tls: TestCA | None = None,
                 require_tls: bool = False, ldapi: bool = False, start: bool = True):
        require_slapd()
        if access not in ("anonymous", "bind"):
            raise ValueError(f"access must be 'anonymous' or 'bind', not {access!r}")
        self.access = access
        self.tls = tls
        self.require_tls = require_tls
        self.ldapi = ldapi
        self.dir = h._make_tempdir("geopol-slapd-")
        self.conf_dir = os.path.join(self.dir, "slapd.d")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.socket_path = os.path.join(self.dir, "ldapi")
        self.host = "127.0.0.1"
        self.port = 0
        self.tls_port = 0
        self.proc: subprocess.Popen | None = None
        self._saved_log: str | None = None
        try:
            self._provision()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # -- URIs
    @property
    def uri(self) -> str:
        return f"ldap://{self.host}:{self.port}/"

    @property
    def ldaps_uri(self) -> str:
        if not self.tls:
            raise AssertionError("this slapd has no TLS")
        return f"ldaps://{self.host}:{self.tls_port}/"

    @property
    def ldapi_uri(self) -> str:
        return "ldapi://" + urllib.parse.quote(self.socket_path, safe="") + "/"

    def _listen_urls(self) -> str:
        urls = [self.uri]
        if self.tls:
            urls.append(self.ldaps_uri)
        if self.ldapi:
            urls.append(self.ldapi_uri)
        return " ".join(urls)

    # -- provisioning: cn=config and the data, both with slapadd
    def _config_ldif(self) -> str:
        g = [
            "dn: cn=config",
            "objectClass: olcGlobal",
            "cn: config",
            f"olcPidFile: {self.dir}/slapd.pid",
            f"olcArgsFile: {self.dir}/slapd.args",
            "olcLogLevel: stats",
        ]
        if self.tls:
            g += [f"olcTLSCACertificateFile: {self.tls.ca_cert}",
                  f"olcTLSCertificateFile: {self.tls.server_cert}",
                  f"olcTLSCertificateKeyFile: {self.tls.server_key}",
                  "olcTLSVerifyClient: try"]
        if self.require_tls:
            g.append("olcSecurity: tls=1")
        parts = ["\n".join(g) + "\n"]
        parts.append(f"""\
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {SLAPD_MODULE_DIR}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
""")
        for schema in ("core", "cosine", "inetorgperson", "nis"):
            with open(os.path.join(SCHEMA_DIR, schema + ".ldif"), encoding="utf-8") as f:
                parts.append(f.read().strip() + "\n")
        parts.append(_SCHEMA_LDIF)
        if self.access == "anonymous":
            acl = ["olcAccess: {0}to attrs=userPassword by anonymous auth by * none",
                   "olcAccess: {1}to * by * read"]
        else:
            acl = ["olcAccess: {0}to attrs=userPassword by anonymous auth by * none",
                   f'olcAccess: {{1}}to * by dn.exact="{READER_DN}" read '
                   f'by dn.exact="{CLIENT_CERT_DN}" read '
                   f'by dn.exact="{PEERCRED_ROOT_DN}" read by * none']
        parts.append(f"""\
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE_DN}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PW}
olcDbDirectory: {self.data_dir}
olcDbMaxSize: 16777216
olcDbIndex: objectClass eq
olcDbIndex: mailAlias eq
""" + "\n".join(acl) + "\n")
        return "\n".join(p if p.endswith("\n") else p + "\n" for p in parts)

    def _provision(self) -> None:
        os.mkdir(self.conf_dir, 0o700)
        os.mkdir(self.data_dir, 0o700)
        config = os.path.join(self.dir, "config.ldif")
        data = os.path.join(self.dir, "data.ldif")
        with open(config, "w", encoding="utf-8") as f:
            f.write(self._config_ldif())
        with open(data, "w", encoding="utf-8") as f:
            f.write(_data_ldif())
        _run([SLAPADD, "-n0", "-F", self.conf_dir, "-l", config], "slapadd of cn=config")
        _run([SLAPADD, "-n1", "-F", self.conf_dir, "-l", data], "slapadd of the test directory")

    # -- lifecycle
    def start(self) -> "Slapd":
        """Starts slapd; the first start picks free ports, a restart reuses them."""
        if self.running():
            raise RuntimeError("slapd is already running")
        fresh = self.port == 0
        if not fresh and self.tls and not self.tls_port:
            self.tls_port = h.free_port(self.host)
        last = ""
        for _attempt in range(5 if fresh else 20):
            if fresh:
                self.port = h.free_port(self.host)
                self.tls_port = h.free_port(self.host) if self.tls else 0
            offset = self.log_size()
            self.proc = h.spawn_logged(
                self, [SLAPD, "-d", "stats", "-F", self.conf_dir, "-h", self._listen_urls()],
                self.log_path, self.dir)
            deadline = time.monotonic() + self.STARTUP_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._accepts():
                    return self
                time.sleep(0.05)
            last = self._log_from(offset)
            self.kill()
            if "Address already in use" not in last:
                break
            time.sleep(0.25)  # a restart on the old port: wait for it to come free
        raise AssertionError(f"slapd did not start on {self._listen_urls()}\n"
                             f"log:\n{h.tail(last)}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                pass
        except OSError:
            return False
        if self.tls:
            try:
                with socket.create_connection((self.host, self.tls_port), timeout=0.5):
                    pass
            except OSError:
                return False
        return not self.ldapi or os.path.exists(self.socket_path)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, nothing is answered.
        Returns once every thread of slapd is stopped (kill() returns before that)."""
        os.kill(self.pid, signal.SIGSTOP)

        def all_stopped() -> bool:
            task_dir = f"/proc/{self.pid}/task"
            try:
                for tid in os.listdir(task_dir):
                    with open(f"{task_dir}/{tid}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                            return False
            except FileNotFoundError:
                return True  # gone (a thread or the process): nothing left to answer
            return True

        h.wait_for(all_stopped, 5.0, interval=0.005, what=f"slapd {self.pid} to stop")

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (after SIGCONT, so a paused slapd dies at once)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        h._unregister(self)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait; SIGKILL if it takes longer."""
        if self.proc is None or self.proc.poll() is not None:
            h._unregister(self)
            return
        try:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        except OSError:
            pass
        h._unregister(self)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.kill()
            if self._saved_log is None:
                self._saved_log = self._read_log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def search_count(self) -> int:
        """SRCH operations slapd has logged so far (stats log level)."""
        return sum(1 for line in self.log_text().splitlines() if " SRCH base=" in line)

    def describe(self) -> str:
        return f"slapd pid {self.pid} on {self._listen_urls()} in {self.dir}"


def start_slapd(testcase: h.GeopolTestCase, start: bool = True, port: int = 0,
                **kw) -> Slapd:
    """A Slapd (started unless start=False), closed (and its log tail printed on failure) at
    the test's cleanup. port: listen there (a later start() too) instead of a free port."""
    s = Slapd(start=False, **kw)
    testcase.addCleanup(testcase._cleanup_artifact, s)
    s.port = port
    if start:
        s.start()
    return s


# ---------------------------------------------------------------------------------------------
# geopold configurations with ldap-alias


def geopold_config(ldap: dict | None, *, max_countries: int = 3, max_ips: int = 10,
                   request_timeout: str | None = None, log_level: str = "debug",
                   ldap_failure_action: str | None = None) -> dict:
    """geoip -> ldap-alias -> memory-store -> limits. ldap: the ldap-alias keys, or None to
    leave the module out (the reference flags may add it)."""
    server = {"listen": ["inet:127.0.0.1:0"], "idle-timeout": "600s"}
    if request_timeout:
        server["request-timeout"] = request_timeout
    modules = [{"name": "geoip", "database": h.geolite_city()}]
    if ldap is not None:
        entry = {"name": "ldap-alias"}
        entry.update(ldap)
        if ldap_failure_action is not None:
            entry["failure-action"] = ldap_failure_action
        modules.append(entry)
    modules += [
        {"name": "memory-store", "state-file": ""},
        {"name": "limits", "max-countries": max_countries, "max-ips": max_ips},
    ]
    return {"server": server, "log": {"level": log_level}, "modules": modules}


def ldap_keys(slapd: Slapd, **kw) -> dict:
    """ldap-alias keys for `slapd` (anonymous, base BASE_DN); keyword args add or override
    (underscores become dashes)."""
    keys = {"server-uris": [slapd.uri], "base-dn": BASE_DN}
    for k, v in kw.items():
        keys[k.replace("_", "-")] = v
    return keys


# ---------------------------------------------------------------------------------------------
# unittest glue


DEFER_DEFAULT = "DEFER Service temporarily not available"
REJECT = "REJECT " + h.REJECT_TEXT


class LdapTestCase(h.GeopolTestCase):
    """GeopolTestCase with slapd and geopold helpers. setUp fails (never skips) when slapd,
    geopold or the GeoLite2 database is missing."""

    def setUp(self):
        require_slapd()
        h.geopold_binary()
        h.geolite_city()

    def start_ldap(self, **kw) -> Slapd:
        return start_slapd(self, **kw)

    def cpu_seconds(self, pid: int) -> float:
        """User + system CPU time the process has used so far."""
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start_daemon(self, ldap: dict | None, args=(), env=None, **cfg) -> h.Geopold:
        kw = {"env": env} if env else {}
        return self.start_geopold(geopold_config(ldap, **cfg), args, **kw)

    def ask(self, client: h.PolicyClient, sender: str, country: str = "US",
            sasl_username: str | None = None, timeout: float = 10.0) -> str:
        """One RCPT-stage request from a client in `country` (a key of GEO_IPS)."""
        return client.policy_request(sender=sender, client_address=h.GEO_IPS[country],
                                     sasl_username=sasl_username, timeout=timeout)

    def timed_ask(self, client: h.PolicyClient, sender: str, country: str = "US"):
        t0 = time.monotonic()
        action = self.ask(client, sender, country)
        return action, time.monotonic() - t0

    @staticmethod
    def count(daemon: h.Geopold, needle: str) -> int:
        return daemon.log_text().count(needle)

    def wait_log(self, daemon: h.Geopold, needle: str, timeout: float = 5.0) -> None:
        h.wait_for(lambda: needle in daemon.log_text(), timeout, what=f"{needle!r} in the log")

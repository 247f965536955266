"""A real SMTP server for the integration tests: aiosmtpd, saving each message to a folder.

Run by /usr/bin/python3 (Debian's python3-aiosmtpd is installed for it only), started and
stopped by smtp_harness.SmtpSink. It binds 127.0.0.1 (port 0 = a free one), prints
"READY <port>" on stdout once it accepts connections, and writes every accepted message as
<dir>/<n>.json:

    {"mail_from": ..., "rcpt_tos": [...], "data_b64": <the message as received>,
     "helo": ..., "tls": bool, "tls_version": ..., "authenticated": bool, "login": ...,
     "auth_mechanism": ...}

Modes: plain (no TLS offered), starttls (STARTTLS offered; --require-starttls refuses
everything else first), implicit (TLS from the first byte, like port 465). --auth USER:PASS
offers AUTH (LOGIN, PLAIN) and requires it; --auth-over-plain allows it without TLS.
Stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Saver:
    def __init__(self, directory: str):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        transport = server.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data_b64": base64.b64encode(data).decode("ascii"),
            "helo": session.host_name,
            "tls": ssl_object is not None,
            "tls_version": ssl_object.version() if ssl_object is not None else None,
            "authenticated": bool(session.authenticated),
            "login": login,
            "auth_mechanism": getattr(session, "geopol_mechanism", None),
        }
        self.count += 1
        path = os.path.join(self.directory, "%06d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 2.0.0 Message accepted"


def make_authenticator(user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data):
        session.geopol_mechanism = mechanism
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode("utf-8", "replace") == user
              and auth_data.password.decode("utf-8", "replace") == password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticator


async def serve(args) -> None:
    context = None
    if args.mode in ("starttls", "implicit"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    kwargs = {
        "hostname": "sink.geopol-test.invalid",
        "decode_data": False,
        "enable_SMTPUTF8": False,
    }
    if args.mode == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = args.require_starttls
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = make_authenticator(user, password)
        kwargs["auth_required"] = True
        # aiosmtpd only counts STARTTLS as TLS; with implicit TLS the whole session is.
        kwargs["auth_require_tls"] = not args.auth_over_plain and args.mode != "implicit"

    handler = Saver(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs), host="127.0.0.1", port=args.port,
        ssl=context if args.mode == "implicit" else None)
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--auth-over-plain", action="store_true")
    args = p.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

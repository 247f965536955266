#!/usr/bin/env python3
"""operator-mail configured the reference's way: command-line flags and GEOIPPOLICYD_* variables.

The YAML has no operator-mail entry at all; --run-actions adds and enables the module, the
other flags fill its keys (--mail-port is the README's spelling of --mail-server-port).
"""

import os
import shutil
import tempfile

import geopol_harness as h
import smtp_harness as s

REJECT = "REJECT " + h.REJECT_TEXT


class ReferenceFlags(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        s.require_aiosmtpd()
        self.tmp = tempfile.mkdtemp(prefix="geopol-om-flags-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def base_config(self) -> dict:
        return s.geopol_config(None)  # geoip, memory-store, limits; no operator-mail entry

    def block(self, d, account="alice@example.com"):
        c = self.connect(d)
        self.assertEqual(s.block_account(c, account), ["DUNNO", REJECT])

    def test_the_reference_flags(self):
        sink = s.start_sink(self)
        d = self.start_geopold(self.base_config(), [
            "--run-actions", "--run-action-operator",
            "--operator-to", "<ops@example.org>",
            "--operator-from", "<no-reply@submission.example.org>",
            "--operator-subject", "[geopol] %s blocked",
            "--operator-message-ct", "text/plain",
            "--mail-server-address", "127.0.0.1",
            "--mail-server-port", str(sink.port),
            "--mail-helo", "helo.example.org",
        ])
        self.assertIn("operator-mail", d.log_text())
        self.block(d)
        [m] = sink.wait_for_messages(1)
        self.assertEqual(m.rcpt_tos, ["ops@example.org"])
        self.assertEqual(m.mail_from, "no-reply@submission.example.org")
        self.assertEqual(m.helo, "helo.example.org")
        self.assertEqual(m.message["Subject"], "[geopol] alice@example.com blocked")
        self.assertEqual(m.message["To"], "ops@example.org")
        self.assertIn("alice@example.com", m.body)

    def test_mail_port_and_the_message_path(self):
        template = os.path.join(self.tmp, "mailtemplate.txt")
        with open(template, "w") as f:
            f.write("Hello,\n\nthe e-mail account sender=<%s> was compromised.\n\nPostmaster\n")
        sink = s.start_sink(self, auth=("geopol", "pw-123456"), auth_over_plain=True)
        d = self.start_geopold(self.base_config(), [
            "--run-actions", "--run-action-operator",
            "--operator-to", "ops@example.org", "--operator-from", "geopol@example.org",
            "--operator-message-path", template,
            "--mail-server-address", "127.0.0.1", "--mail-port", str(sink.port),
            "--mail-username", "geopol", "--mail-password", "pw-123456",
        ])
        self.block(d, "op@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertTrue(m.authenticated)
        self.assertEqual(m.body, "Hello,\n\nthe e-mail account sender=<op@example.com> was "
                                 "compromised.\n\nPostmaster\n")
        self.assertNotIn("pw-123456", d.log_text())

    def test_the_environment_variables(self):
        sink = s.start_sink(self)
        d = self.start_geopold(self.base_config(), env={
            "GEOIPPOLICYD_RUN_ACTIONS": "true",
            "GEOIPPOLICYD_RUN_ACTION_OPERATOR": "true",
            "GEOIPPOLICYD_OPERATOR_TO": "ops@example.org",
            "GEOIPPOLICYD_OPERATOR_FROM": "geopol@example.org",
            "GEOIPPOLICYD_MAIL_SERVER_ADDRESS": "127.0.0.1",
            "GEOIPPOLICYD_MAIL_SERVER_PORT": str(sink.port),
        })
        self.block(d)
        [m] = sink.wait_for_messages(1)
        self.assertEqual(m.rcpt_tos, ["ops@example.org"])

    def test_run_actions_without_the_operator_action_sends_nothing_and_says_so(self):
        sink = s.start_sink(self)
        d = self.start_geopold(self.base_config(), [
            "--run-actions", "--operator-to", "ops@example.org",
            "--mail-server-address", "127.0.0.1", "--mail-server-port", str(sink.port),
        ])
        self.assertRegex(d.log_text(), r"operator_mail\.inactive run-actions=true "
                                       r"run-action-operator=false")
        self.block(d)
        d.wait_for_log(r"newly_blocked=yes")
        self.assertEqual(sink.count(), 0)

    def test_a_missing_operator_to_refuses_to_start(self):
        d = h.Geopold(self.base_config(), [
            "--run-actions", "--run-action-operator", "--operator-from", "geopol@example.org",
            "--mail-server-address", "127.0.0.1",
        ], start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as cm:
            d.start()
        self.assertRegex(str(cm.exception), r"operator-mail\.to: must be set: the operator's "
                                            r"address \(--operator-to\)")


if __name__ == "__main__":
    h.main()

"""The server under test: ENVFORGE_TEST_URL (set by tests/clients/, which starts `envforge
serve` on loopback with a synthesized corpus). Without it the server tests are skipped."""

import os
import unittest

from envforge_client import EnvforgeHttp

URL = os.environ.get("ENVFORGE_TEST_URL")


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not URL:
            raise unittest.SkipTest("ENVFORGE_TEST_URL is not set (tests/clients starts a server and sets it)")
        cls.url = URL
        cls.http = EnvforgeHttp(URL, timeout_s=120)
        cls.tasks = list(cls.http.iter_tasks())
        if not cls.tasks:
            raise AssertionError("the test corpus has no usable task")
        cls.task = cls.tasks[0]

    def free_tool(self, task=None):
        """A tool of the task callable with no arguments (None when it has none)."""
        for t in (task or self.task)["tools"]:
            params = t["function"].get("parameters") or {}
            if not params.get("required"):
                return t["function"]["name"]
        return None

    def wrong_answer(self, task=None):
        ref = (task or self.task)["reference_solution"]
        if isinstance(ref, dict):
            return {k: "definitely-not-" + str(v) for k, v in ref.items()}
        return "definitely-not-the-answer"

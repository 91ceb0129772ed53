"""The OpenEnv-style client and the HTTP helpers against a real envforge server."""

import asyncio
import json
import threading
import unittest

from envforge_client import AsyncEnvforgeEnv, EnvforgeEnv, EnvforgeError

from .server_fixture import ServerTest


class EpisodeOverWebSocketTest(ServerTest):
    def test_whole_episode_reference_answer_scores_one(self):
        with EnvforgeEnv(self.url) as env:
            first = env.reset(task_id=self.task["task_id"], model="client-test")
            obs = first.observation
            self.assertIsNone(first.reward)
            self.assertFalse(first.done)
            self.assertEqual(obs["task_id"], self.task["task_id"])
            self.assertEqual(obs["messages"][-1], {"role": "user", "content": self.task["prompt"]})
            names = [t["function"]["name"] for t in obs["tools"]]
            self.assertEqual(names[-1], "submit")
            self.assertEqual(set(names[:-1]), {t["function"]["name"] for t in self.task["tools"]})
            tool = self.free_tool()
            if tool:
                r = env.call_tool(tool, {})
                self.assertIsNone(r.reward)
                self.assertFalse(r.done)
                self.assertIsNone(r.observation["error"], r.observation)
                self.assertIsNotNone(r.observation["result"])
                self.assertEqual(r.observation["step_count"], 1)
            bad = env.call_tool("no_such_tool", {})
            self.assertFalse(bad.done)
            self.assertEqual(bad.observation["error"]["error_type"], "tool_not_found")
            state = env.state()
            self.assertEqual(state["task_id"], self.task["task_id"])
            self.assertFalse(state["done"])
            done = env.submit(self.task["reference_solution"])
            self.assertTrue(done.done)
            self.assertEqual(done.reward, 1.0)
            self.assertTrue(done.observation["components"]["pass"])
            with self.assertRaises(EnvforgeError) as after:
                env.call_tool(tool or "list_cities", {})
            self.assertEqual(after.exception.code, "EPISODE_DONE")

    def test_wrong_answer_through_the_submit_tool_scores_zero(self):
        with EnvforgeEnv(self.url) as env:
            env.reset(task_id=self.task["task_id"])
            r = env.call_tool("submit", {"answer": self.wrong_answer()})
            self.assertTrue(r.done)
            self.assertEqual(r.reward, 0.0)
            self.assertFalse(r.observation["components"]["pass"])

    def test_list_tools_and_mcp_on_the_connection(self):
        with EnvforgeEnv(self.url) as env:
            env.reset(task_id=self.task["task_id"])
            tools = env.list_tools()
            self.assertIn("submit", [t["name"] for t in tools])
            listed = env.mcp("tools/list")
            self.assertIn("submit", [t["name"] for t in listed["result"]["tools"]])
            called = env.mcp("tools/call", {"name": "submit", "arguments": {"answer": self.task["reference_solution"]}})
            self.assertEqual(called["result"]["reward"], 1.0)
            self.assertTrue(called["result"]["done"])

    def test_reset_by_seed_and_filters_and_reset_again(self):
        with EnvforgeEnv(self.url) as env:
            a = env.reset(seed=0).observation
            b = env.reset(seed=0).observation  # ends the first episode, starts another
            self.assertEqual(a["task_id"], b["task_id"])
            self.assertNotEqual(a["episode_id"], b["episode_id"])
            c = env.reset(seed=1, category=self.task["category"]).observation
            self.assertEqual(c["category"], self.task["category"])

    def test_protocol_errors_keep_the_connection(self):
        with EnvforgeEnv(self.url) as env:
            with self.assertRaises(EnvforgeError) as before:
                env.call_tool("list_cities", {})
            self.assertEqual(before.exception.code, "VALIDATION_ERROR")
            with self.assertRaises(EnvforgeError) as unknown:
                env.reset(task_id="no-such-task")
            self.assertEqual(unknown.exception.code, "VALIDATION_ERROR")
            self.assertTrue(env.connected)
            self.assertEqual(env.reset(task_id=self.task["task_id"]).observation["task_id"], self.task["task_id"])

    def test_concurrent_async_episodes_are_independent(self):
        async def one(i):
            async with AsyncEnvforgeEnv(self.url) as env:
                await env.reset(task_id=self.task["task_id"], episode_id=f"par-{i}")
                answer = self.task["reference_solution"] if i % 2 == 0 else self.wrong_answer()
                r = await env.submit(answer)
                return r.reward

        async def all_of():
            return await asyncio.gather(*(one(i) for i in range(8)))
        self.assertEqual(asyncio.run(all_of()), [1.0, 0.0] * 4)

    def test_sync_clients_from_many_threads(self):
        rewards = {}

        def run(i):
            with EnvforgeEnv(self.url) as env:
                env.reset(task_id=self.task["task_id"])
                rewards[i] = env.submit(self.task["reference_solution"]).reward
        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(rewards, {i: 1.0 for i in range(6)})

    def test_unreachable_server_is_a_clear_error(self):
        with self.assertRaises(EnvforgeError) as e:
            EnvforgeEnv("http://127.0.0.1:9", timeout_s=5).reset(task_id="x")
        self.assertEqual(e.exception.code, "UNREACHABLE")


class HttpRoutesTest(ServerTest):
    def test_health_metadata_schema(self):
        self.assertEqual(self.http.health()["status"], "healthy")
        self.assertEqual(self.http.metadata()["name"], "envforge")
        self.assertEqual(self.http.schema()["action"]["title"], "CallToolAction")

    def test_tasks_are_export_rows_and_page(self):
        page = self.http.tasks(limit=1)
        self.assertEqual(len(page["tasks"]), 1)
        self.assertEqual(page["total"], len(self.tasks))
        row = page["tasks"][0]
        for key in ["task_id", "prompt", "messages", "tools", "reference_solution", "category", "difficulty"]:
            self.assertIn(key, row)
        ids = [t["task_id"] for t in self.tasks]
        self.assertEqual(len(ids), len(set(ids)))

    def test_verify(self):
        good = self.http.verify(self.task["task_id"], self.task["reference_solution"])
        self.assertEqual(good["reward"], 1.0)
        self.assertTrue(good["components"]["pass"])
        bad = self.http.verify(self.task["task_id"], self.wrong_answer())
        self.assertEqual(bad["reward"], 0.0)
        with self.assertRaises(EnvforgeError) as unknown:
            self.http.verify("no-such-task", {})
        self.assertIn(unknown.exception.status, (404, 422))

    def test_get_reward_in_openrlhf_contract(self):
        prompt = "PROMPT "
        ref = json.dumps(self.task["reference_solution"])
        reply = self.http.get_reward(
            [prompt + "<answer>" + ref + "</answer>", prompt + "no idea", prompt + ref],
            [prompt, prompt, prompt],
            [self.task["task_id"], self.task["task_id"], json.dumps({"task_id": self.task["task_id"]})])
        self.assertEqual(reply["rewards"], [1.0, 0.0, 1.0])
        self.assertEqual(len(reply["scores"]), 3)
        self.assertEqual(reply["extra_logs"]["pass"], [1, 0, 1])

    def test_stateless_reset_and_step(self):
        r = self.http.reset(task_id=self.task["task_id"])
        self.assertIsNone(r["reward"])
        self.assertFalse(r["done"])
        s = self.http.step({"type": "submit", "answer": self.task["reference_solution"]}, self.task["task_id"])
        self.assertTrue(s["done"])
        self.assertEqual(s["reward"], 1.0)

    def test_mcp_session(self):
        created = self.http.mcp("openenv/session/create", {"task_id": self.task["task_id"]})
        sid = created["session_id"]
        tools = self.http.mcp("tools/list", {"session_id": sid})["tools"]
        self.assertIn("submit", [t["name"] for t in tools])
        tool = self.free_tool()
        if tool:
            res = self.http.mcp("tools/call", {"session_id": sid, "name": tool, "arguments": {}})
            self.assertFalse(res["isError"])
            self.assertIsNone(res["reward"])
        res = self.http.mcp("tools/call", {"session_id": sid, "name": "submit",
                                           "arguments": {"answer": self.task["reference_solution"]}})
        self.assertEqual(res["reward"], 1.0)
        self.assertTrue(res["done"])
        self.assertTrue(self.http.mcp("openenv/session/close", {"session_id": sid})["closed"])
        with self.assertRaises(EnvforgeError):
            self.http.mcp("tools/list", {"session_id": sid})

    def test_http_errors_carry_the_code(self):
        with self.assertRaises(EnvforgeError) as e:
            self.http._request("GET", "/no/such/route")
        self.assertEqual(e.exception.status, 404)
        self.assertEqual(e.exception.code, "NOT_FOUND")


if __name__ == "__main__":
    unittest.main()

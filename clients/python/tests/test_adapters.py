"""Each trainer adapter driven through the interface its trainer calls, against a real
envforge server (the trainers themselves are not installed here)."""

import asyncio
import json
import os
import sys
import types
import unittest

from envforge_client.openrlhf_agent import AgentInstance, reward_func
from envforge_client.skyrl_env import EnvforgeTextEnv
from envforge_client.trl_env import make_environment_class
from envforge_client.verl_tool import EnvforgeTool, compute_score

from .server_fixture import ServerTest


def tool_call_text(name, arguments):
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


class TrlEnvironmentFactoryTest(ServerTest):
    def test_trl_calls_reset_tools_and_get_reward(self):
        Env = make_environment_class(self.url, self.task["tools"], model="trl-test")
        env = Env()  # TRL: one instance per rollout
        row = {"prompt": self.task["messages"], "task_id": self.task["task_id"], "answer": "{}"}
        self.assertIsNone(env.reset(**row))
        self.assertEqual(env.get_reward(), 0.0)  # nothing submitted yet
        tool = self.free_tool()
        if tool:
            text = getattr(env, tool)()
            self.assertIsInstance(text, str)
            self.assertFalse(text.startswith("Error"), text)
        out = env.submit(json.dumps(self.task["reference_solution"]))
        self.assertIn("pass", out)
        self.assertEqual(env.get_reward(), 1.0)
        self.assertIn("over", env.submit("{}"))  # after done: told, not crashed

    def test_a_failed_answer_and_a_fresh_reset(self):
        Env = make_environment_class(self.url, json.dumps(self.task["tools"]))
        env = Env()
        env.reset(extra_info={"task_id": self.task["task_id"]})
        env.submit(json.dumps(self.wrong_answer()))
        self.assertEqual(env.get_reward(), 0.0)
        env.reset(task_id=self.task["task_id"])  # the same object plays again
        env.submit(json.dumps(self.task["reference_solution"]))
        self.assertEqual(env.get_reward(), 1.0)


class VerlToolTest(ServerTest):
    def tools(self):
        config = {"type": "native", "server_url": self.url, "timeout_s": 30}
        schemas = self.task["tools"] + [{"type": "function", "function": {"name": "submit", "parameters": {}}}]
        return {s["function"]["name"]: EnvforgeTool(config, s) for s in schemas}

    def test_tool_agent_loop_shares_one_episode_per_request(self):
        async def rollout(request_id, answer):
            tools = self.tools()
            agent_data = types.SimpleNamespace(request_id=request_id)
            kwargs = {"create_kwargs": {"task_id": self.task["task_id"]}}
            tool = self.free_tool()
            steps = []
            if tool:  # verl's agent loop: create, execute, release per call
                iid, _ = await tools[tool].create(**kwargs, agent_data=agent_data)
                resp, reward, metrics = await tools[tool].execute(iid, {}, agent_data=agent_data)
                self.assertFalse(resp.text.startswith("Error"), resp.text)
                self.assertEqual(reward, 0.0)
                steps.append(metrics["step_count"])
                await tools[tool].release(iid)
            iid, _ = await tools["submit"].create(**kwargs, agent_data=agent_data)
            resp, reward, metrics = await tools["submit"].execute(iid, json.dumps({"answer": answer}),
                                                                  agent_data=agent_data)
            steps.append(metrics["step_count"])
            final = await tools["submit"].calc_reward(iid)
            await tools["submit"].release(iid)
            return reward, final, steps

        async def both():
            return await asyncio.gather(rollout("req-a", self.task["reference_solution"]),
                                        rollout("req-b", self.wrong_answer()))
        (ra, fa, sa), (rb, fb, sb) = asyncio.run(both())
        self.assertEqual((ra, fa), (1.0, 1.0))
        self.assertEqual((rb, fb), (0.0, 0.0))
        self.assertEqual(sa, list(range(1, len(sa) + 1)))  # one episode: the step count went on
        # Done and released: closed (other tests' episodes may still be open in the class state).
        self.assertFalse({"req-a", "req-b"} & set(EnvforgeTool._episodes))
        self.assertFalse({"req-a", "req-b"} & set(EnvforgeTool._instance_key.values()))

    def test_errors_are_tool_responses_not_crashes(self):
        async def go():
            tools = self.tools()
            name = next(iter(tools))
            with self.assertRaises(ValueError):
                await tools[name].create(create_kwargs={})
            with self.assertRaises(KeyError):
                await tools[name].execute("nope", {})
            iid, _ = await tools[name].create(create_kwargs={"task_id": self.task["task_id"]})
            resp, reward, metrics = await tools[name].execute(iid, "{not json")
            self.assertTrue(resp.text.startswith("Error"))
            self.assertEqual(await tools[name].calc_reward(iid), 0.0)
            await tools[name].release(iid)
            await tools[name].release(iid)  # twice is harmless
        asyncio.run(go())

    def test_compute_score_asks_verify(self):
        os.environ["ENVFORGE_SERVER_URL"] = self.url
        extra = {"task_id": self.task["task_id"], "index": 0}
        ref = json.dumps(self.task["reference_solution"])
        self.assertEqual(compute_score("envforge/x", "so <answer>" + ref + "</answer>", ref, extra)["score"], 1.0)
        self.assertEqual(compute_score("envforge/x", "I give up", ref, extra)["score"], 0.0)
        self.assertEqual(compute_score("envforge/x", ref, ref, {"task_id": "no-such"})["score"], 0.0)


class SkyRLTextEnvTest(ServerTest):
    def test_init_step_close(self):
        env = EnvforgeTextEnv({"server_url": self.url, "max_turns": 8},
                              {"extra_info": {"task_id": self.task["task_id"]}, "env_class": "envforge"})
        prompt, meta = env.init(self.task["messages"])
        self.assertEqual(prompt, self.task["messages"])
        self.assertIn("submit", [t["function"]["name"] for t in meta["tools"]])
        tool = self.free_tool()
        if tool:
            out = env.step("let me look " + tool_call_text(tool, {}))
            self.assertFalse(out["done"])
            self.assertEqual(out["reward"], 0.0)
            self.assertEqual(out["observations"][0]["role"], "user")
            self.assertIn("<tool_response>", out["observations"][0]["content"])
        bad = env.step("<tool_call>{broken</tool_call>")
        self.assertFalse(bad["done"])
        self.assertIn("Error", bad["observations"][0]["content"])
        out = env.step("<answer>" + json.dumps(self.task["reference_solution"]) + "</answer>")
        self.assertTrue(out["done"])
        self.assertEqual(out["reward"], 1.0)
        env.close()

    def test_out_of_turns_ends_unanswered(self):
        env = EnvforgeTextEnv({"server_url": self.url, "max_turns": 1}, {"task_id": self.task["task_id"]})
        env.init([])
        out = env.step(tool_call_text(self.free_tool() or "list_cities", {}))
        self.assertTrue(out["done"])
        self.assertEqual(out["reward"], 0.0)


class OpenRLHFAgentTest(ServerTest):
    def setUp(self):
        os.environ["ENVFORGE_SERVER_URL"] = self.url

    def test_reset_and_step_dicts(self):
        async def go():
            agent = AgentInstance()
            first = await agent.reset({"observation": "PROMPT", "label": self.task["task_id"]})
            self.assertEqual(first, {"observation": "PROMPT"})
            tool = self.free_tool()
            if tool:
                out = await agent.step({"observation_text": "PROMPT", "action_text": tool_call_text(tool, {}),
                                        "label": self.task["task_id"]})
                self.assertFalse(out["done"])
                self.assertIn("<tool_response>", out["environment_feedback"])
                self.assertEqual(out["rewards"], 0.0)
            out = await agent.step({"observation_text": "PROMPT", "label": self.task["task_id"],
                                    "action_text": "<answer>" + json.dumps(self.task["reference_solution"]) + "</answer>"})
            self.assertTrue(out["done"])
            self.assertEqual(out["rewards"], 1.0)
            self.assertEqual(out["extra_logs"]["pass"], 1.0)
        asyncio.run(go())

    def test_label_as_json_and_remote_reward_function(self):
        label = json.dumps({"task_id": self.task["task_id"]})
        ref = json.dumps(self.task["reference_solution"])
        out = reward_func(["P " + ref, "P wrong"], ["P ", "P "], [label, label])
        self.assertEqual(out["rewards"], [1.0, 0.0])
        self.assertEqual(out["extra_logs"]["pass"], [1, 0])

    def test_agent_func_file_loads_by_path(self):
        import importlib.util
        path = os.path.join(os.path.dirname(__file__), "..", "openrlhf_agent_func.py")
        spec = importlib.util.spec_from_file_location("agent_func_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.assertTrue(hasattr(module, "AgentInstance") and hasattr(module, "reward_func"))
        path = os.path.join(os.path.dirname(__file__), "..", "verl_reward.py")
        spec = importlib.util.spec_from_file_location("verl_reward_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.assertTrue(callable(module.compute_score))


if __name__ == "__main__":
    sys.exit(unittest.main())

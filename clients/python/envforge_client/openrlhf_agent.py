"""OpenRLHF's agent interface (``--train.agent_func_path``, examples/python/agent_func.py):
an instance per sample with ``async reset(states)`` and ``async step(states)`` on dicts, text
in and text out; the label of a sample is its task id (or JSON text with ``task_id``). Plus
OpenRLHF's remote reward as a function (``reward_func``) for ``--remote_rm_url FILE.py``; the
server's ``POST /get_reward`` is the same contract over HTTP.

Point OpenRLHF at ``clients/python/openrlhf_agent_func.py`` (it imports this module)."""

import os
import sys

from .actions import observation_text, parse_action, task_id_of
from .client import AsyncEnvforgeEnv
from .errors import EnvforgeError
from .http_client import EnvforgeHttp


def _server():
    return os.environ.get("ENVFORGE_SERVER_URL", "http://127.0.0.1:8000"), os.environ.get("ENVFORGE_SERVE_TOKEN")


def _reward_value(x):
    torch = sys.modules.get("torch")  # OpenRLHF hands rewards on as tensors
    return torch.tensor(x) if torch is not None else x


class AgentInstance:
    """One sample's episode."""

    def __init__(self, *args, **kwargs):
        url, token = _server()
        self.env = AsyncEnvforgeEnv(url, token=token, timeout_s=float(os.environ.get("ENVFORGE_TIMEOUT_S", 60)),
                                    capacity_wait_s=float(os.environ.get("ENVFORGE_CAPACITY_WAIT_S", 300)))
        self.max_turns = int(os.environ.get("ENVFORGE_MAX_TURNS", 16))
        self.turns = 0
        self.task_id = None

    async def reset(self, states, **kwargs):
        """``states``: ``{"observation": prompt text, "label": task id}``."""
        self.task_id = task_id_of(states.get("label"))
        reset = {"task_id": self.task_id}
        if os.environ.get("ENVFORGE_MODEL"):
            reset["model"] = os.environ["ENVFORGE_MODEL"]
        await self.env.reset(**reset)
        return {"observation": states.get("observation", "")}

    async def step(self, states, **kwargs):
        """``states``: ``{"observation_text", "action_text", "label", ...}`` -> ``{"rewards",
        "scores", "environment_feedback", "done", "sampling_params", "extra_logs"}``."""
        self.turns += 1
        parsed = parse_action(states.get("action_text", ""))
        if parsed["type"] == "call_tool" and self.turns >= self.max_turns:
            parsed = {"type": "submit", "answer": None}
        feedback, reward, done, logs = "", 0.0, False, {}
        if parsed["type"] == "invalid":
            feedback = "\nError: " + parsed["error"] + "\n"
            done = self.turns >= self.max_turns
        else:
            try:
                result = await self.env.step(parsed)
                if result.done:
                    done, reward = True, float(result.reward or 0.0)
                    comp = result.observation.get("components") or {}
                    logs = {"pass": float(bool(comp.get("pass"))), "verifier_score": float(comp.get("score") or 0.0)}
                else:
                    feedback = "\n<tool_response>\n" + observation_text(result.observation) + "\n</tool_response>\n"
            except EnvforgeError as e:
                done, logs = True, {"error": e.code}
        if done:
            await self.env.close()
        return {"rewards": _reward_value(reward), "scores": _reward_value(reward), "environment_feedback": feedback,
                "done": done, "sampling_params": states.get("sampling_params"), "extra_logs": logs}


def reward_func(queries, prompts, labels, **kwargs):
    """OpenRLHF's remote reward function: ``{"rewards", "scores", "extra_logs"}``, judged by the
    server's /get_reward (labels are task ids)."""
    url, token = _server()
    reply = EnvforgeHttp(url, token=token).get_reward(queries, prompts, labels)
    return {"rewards": _reward_value(reply["rewards"]), "scores": _reward_value(reply["scores"]),
            "extra_logs": {k: _reward_value(v) for k, v in (reply.get("extra_logs") or {}).items()
                           if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)}}

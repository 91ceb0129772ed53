"""SkyRL's ``BaseTextEnv`` interface (skyrl-gym): ``init(prompt) -> (prompt, metadata)``,
``step(action: str) -> {observations, reward, done, metadata}``, ``close()``. skyrl-gym is
not imported; register the class with it::

    from skyrl_gym.envs import register
    register(id="envforge", entry_point="envforge_client.skyrl_env:EnvforgeTextEnv")

Dataset rows (``envforge export --format verl``) have ``env_class: envforge`` and the task id
in ``task_id`` / ``extra_info``; ``env_config`` may set ``server_url``, ``token``, ``model``,
``max_turns``. The model acts in text: ``<tool_call>{"name", "arguments"}</tool_call>`` calls
a tool, anything else is its final answer (see actions.py)."""

import os

from .actions import observation_text, parse_action, task_id_of
from .client import EnvforgeEnv
from .errors import EnvforgeError


def _get(config, key, default=None):
    if config is None:
        return default
    if isinstance(config, dict):
        return config.get(key, default)
    return getattr(config, key, default)


class EnvforgeTextEnv:
    def __init__(self, env_config=None, extras=None):
        extras = dict(extras or {})
        self.task_id = task_id_of(extras)
        self.server_url = _get(env_config, "server_url") or os.environ.get("ENVFORGE_SERVER_URL",
                                                                           "http://127.0.0.1:8000")
        self.token = _get(env_config, "token") or os.environ.get("ENVFORGE_SERVE_TOKEN")
        self.model = _get(env_config, "model")
        self.max_turns = int(_get(env_config, "max_turns", 16))
        self.turns = 0
        self.env = EnvforgeEnv(self.server_url, token=self.token, timeout_s=float(_get(env_config, "timeout_s", 60)),
                               capacity_wait_s=float(_get(env_config, "capacity_wait_s", 300)))
        self.observation = None

    def init(self, prompt):
        """Starts the episode; the prompt (chat messages) is returned unchanged."""
        kwargs = {"task_id": self.task_id}
        if self.model:
            kwargs["model"] = self.model
        self.observation = self.env.reset(**kwargs).observation
        return prompt, {"task_id": self.task_id, "tools": self.observation.get("tools", [])}

    def step(self, action):
        self.turns += 1
        parsed = parse_action(action)
        if parsed["type"] == "invalid":
            done = self.turns >= self.max_turns
            return {"observations": [] if done else [{"role": "user", "content": "Error: " + parsed["error"]}],
                    "reward": 0.0, "done": done, "metadata": {"error": parsed["error"]}}
        if parsed["type"] == "call_tool" and self.turns >= self.max_turns:
            parsed = {"type": "submit", "answer": None}  # out of turns: judged as unanswered
        try:
            result = self.env.step(parsed)
        except EnvforgeError as e:
            return {"observations": [], "reward": 0.0, "done": True, "metadata": {"error": e.code}}
        obs = result.observation
        if result.done:
            self.env.close()
            return {"observations": [], "reward": float(result.reward or 0.0), "done": True,
                    "metadata": {"components": obs.get("components"), "step_count": obs.get("step_count")}}
        text = "<tool_response>\n" + observation_text(obs) + "\n</tool_response>"
        return {"observations": [{"role": "user", "content": text}], "reward": 0.0, "done": False,
                "metadata": {"tool_name": obs.get("tool_name"), "step_count": obs.get("step_count")}}

    def close(self):
        self.env.close()

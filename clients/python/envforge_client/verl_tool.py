"""verl's tool interface (``verl/tools/base_tool.py``: create / execute / calc_reward /
release keyed by instance id), played on an envforge server, plus ``compute_score`` for
verl's custom reward function. verl is not imported: the methods have its signatures, and
replies are verl's ``ToolResponse`` when verl is loaded, else an object with the same fields.

verl's tool agent loop makes one instance per tool call (create, execute, release), while an
envforge episode spans the whole rollout: all tool objects of a process share one episode per
rollout, keyed by verl's request id (``agent_data.request_id``) when verl passes it, else by
``create_kwargs["episode_key"]``, else per task id and instance. The episode ends on ``submit``
(its reward is then ``calc_reward``'s) or after ``idle_close_s`` without a call.

Tool config (``envforge export --format verl --tool-config tools.yaml`` writes it)::

    tools:
      - class_name: envforge_client.verl_tool.EnvforgeTool
        config: {type: native, server_url: "http://127.0.0.1:8000", timeout_s: 30}
        tool_schema: {"type": "function", "function": {...}}
"""

import asyncio
import json
import os
import sys
import time
import uuid

from .actions import answer_value, observation_text
from .client import AsyncEnvforgeEnv
from .errors import EnvforgeError
from .http_client import EnvforgeHttp


class _TextResponse:
    """verl's ToolResponse fields, for when verl is not loaded."""

    def __init__(self, text=None, image=None, video=None):
        self.text, self.image, self.video = text, image, video

    def __repr__(self):
        return f"ToolResponse(text={self.text!r})"


def tool_response(text):
    schemas = sys.modules.get("verl.tools.schemas")
    cls = getattr(schemas, "ToolResponse", None) if schemas else None
    return cls(text=text) if cls else _TextResponse(text=text)


class _Episode:
    def __init__(self, env, task_id):
        self.env = env
        self.task_id = task_id
        self.reward = None
        self.done = False
        self.instances = set()
        self.last_used = time.monotonic()
        self.lock = asyncio.Lock()


class EnvforgeTool:
    """One verl tool (one schema of the tool config) backed by envforge episodes."""

    # Shared by every EnvforgeTool of the process: episode key -> _Episode, instance -> key.
    _episodes = {}
    _instance_key = {}

    def __init__(self, config, tool_schema):
        self.config = dict(config or {})
        self.tool_schema = tool_schema
        fn = tool_schema.get("function", {}) if isinstance(tool_schema, dict) else tool_schema.function
        self.name = fn.get("name") if isinstance(fn, dict) else fn.name
        self.server_url = self.config.get("server_url") or os.environ.get("ENVFORGE_SERVER_URL",
                                                                          "http://127.0.0.1:8000")
        self.token = self.config.get("token") or os.environ.get("ENVFORGE_SERVE_TOKEN")
        self.timeout_s = float(self.config.get("timeout_s", 30))
        self.idle_close_s = float(self.config.get("idle_close_s", 900))
        self.capacity_wait_s = float(self.config.get("capacity_wait_s", 300))
        self.model = self.config.get("model")

    def get_openai_tool_schema(self):
        return self.tool_schema

    @staticmethod
    def _episode_key(instance_id, create_kwargs, kwargs):
        agent_data = kwargs.get("agent_data")
        request_id = getattr(agent_data, "request_id", None) or kwargs.get("request_id")
        if request_id:
            return str(request_id)
        if create_kwargs.get("episode_key"):
            return str(create_kwargs["episode_key"])
        return instance_id

    async def _close_idle(self):
        now = time.monotonic()
        for key, ep in list(EnvforgeTool._episodes.items()):
            if not ep.instances and (ep.done or now - ep.last_used > self.idle_close_s):
                EnvforgeTool._episodes.pop(key, None)
                await ep.env.close()

    async def create(self, instance_id=None, create_kwargs=None, **kwargs):
        """Joins (or starts) the rollout's episode of ``create_kwargs["task_id"]``.
        Returns ``(instance_id, ToolResponse)`` as verl's BaseTool does."""
        instance_id = instance_id or str(uuid.uuid4())
        create_kwargs = dict(create_kwargs or {})
        task_id = create_kwargs.get("task_id") or kwargs.get("task_id")
        if not task_id:
            raise ValueError("envforge tool: create_kwargs.task_id is missing (extra_info.tools_kwargs of the row)")
        await self._close_idle()
        key = self._episode_key(instance_id, create_kwargs, kwargs)
        ep = EnvforgeTool._episodes.get(key)
        if ep is None or ep.task_id != task_id:
            env = AsyncEnvforgeEnv(self.server_url, token=self.token, timeout_s=self.timeout_s + 30,
                                   capacity_wait_s=self.capacity_wait_s)
            reset = {"task_id": task_id}
            if self.model:
                reset["model"] = self.model
            await env.reset(**reset)
            ep = _Episode(env, task_id)
            EnvforgeTool._episodes[key] = ep
        ep.instances.add(instance_id)
        EnvforgeTool._instance_key[instance_id] = key
        return instance_id, tool_response("")

    def _episode(self, instance_id):
        key = EnvforgeTool._instance_key.get(instance_id)
        ep = EnvforgeTool._episodes.get(key) if key is not None else None
        if ep is None:
            raise KeyError(f"envforge tool: unknown instance {instance_id!r} (create it first)")
        return ep

    async def execute(self, instance_id, parameters, **kwargs):
        """Runs this tool in the episode: ``(ToolResponse, step_reward, metrics)``; the step
        reward is the verifier's reward on ``submit``, else 0.0."""
        ep = self._episode(instance_id)
        if isinstance(parameters, str):
            try:
                parameters = json.loads(parameters)
            except ValueError:
                return tool_response("Error: the arguments are not JSON"), 0.0, {"error": "invalid_args"}
        async with ep.lock:
            ep.last_used = time.monotonic()
            if ep.done:
                return tool_response("The episode is over: the answer was already submitted."), 0.0, {}
            try:
                result = await ep.env.call_tool(self.name, parameters or {}, timeout_s=self.timeout_s)
            except EnvforgeError as e:
                return tool_response(f"Error ({e.code}): {e.message}"), 0.0, {"error": e.code}
        metrics = {"step_count": result.observation.get("step_count")}
        if result.done:
            ep.done = True
            ep.reward = float(result.reward or 0.0)
            return tool_response(observation_text(result.observation)), ep.reward, metrics
        return tool_response(observation_text(result.observation)), 0.0, metrics

    async def calc_reward(self, instance_id, **kwargs):
        """The verifier's reward of the episode's submitted answer (0.0 before one)."""
        ep = self._episode(instance_id)
        return ep.reward if ep.reward is not None else 0.0

    async def release(self, instance_id, **kwargs):
        """Drops this instance; the episode closes when it is done and nothing refers to it."""
        key = EnvforgeTool._instance_key.pop(instance_id, None)
        ep = EnvforgeTool._episodes.get(key) if key is not None else None
        if ep is None:
            return
        ep.instances.discard(instance_id)
        if ep.done and not ep.instances:
            EnvforgeTool._episodes.pop(key, None)
            await ep.env.close()


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl's custom reward function: the model's final text judged by the server's /verify
    against the task's pristine world (``custom_reward_function.path=<this file>``,
    ``name=compute_score``; server from ENVFORGE_SERVER_URL). Returns a dict with ``score``."""
    from .actions import task_id_of
    task_id = task_id_of(extra_info or {})
    http = EnvforgeHttp(os.environ.get("ENVFORGE_SERVER_URL", "http://127.0.0.1:8000"),
                        token=os.environ.get("ENVFORGE_SERVE_TOKEN"))
    try:
        verdict = http.verify(task_id, answer_value(solution_str))
    except EnvforgeError as e:
        return {"score": 0.0, "error": e.code}
    comp = verdict.get("components") or {}
    return {"score": float(verdict.get("reward") or 0.0), "pass": bool(comp.get("pass")),
            "verifier_score": float(comp.get("score") or 0.0)}

"""TRL ``GRPOTrainer(environment_factory=...)``: a class instantiated per rollout, with
``reset(**row)``, its public methods as the model's tools, and ``get_reward()``.

TRL builds each tool's schema from the method's signature and Google-style docstring, and
envforge environments differ in their tools, so the class is made from tool schemas::

    Env = make_environment_class("http://127.0.0.1:8000", tools)   # tools: OpenAI schemas
    trainer = GRPOTrainer(..., environment_factory=Env)

``tools`` may be the union over a dataset (the ``tool_defs`` of ``envforge export --format
hf`` rows); a tool a task's environment lacks answers with the server's tool_not_found error.
"""

import inspect
import json
import keyword
import re

from .actions import observation_text, task_id_of
from .client import EnvforgeEnv

_JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict}


def _identifier(name):
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident) or ident.startswith("_"):
        ident = "tool_" + ident.lstrip("_")
    return ident


class EnvforgeTrlEnv:
    """One episode per instance. Subclasses made by ``make_environment_class`` add one method
    per tool; ``submit`` ends the episode with the verifier's reward."""

    base_url = "http://127.0.0.1:8000"
    token = None
    model = None
    timeout_s = 60.0
    capacity_wait_s = 300.0

    def __init__(self):
        self._env = EnvforgeEnv(self.base_url, token=self.token, timeout_s=self.timeout_s,
                                capacity_wait_s=self.capacity_wait_s)
        self._reward = None
        self._done = False
        self.observation = None

    def reset(self, **row):
        """Starts the row's task (``task_id`` or ``extra_info.task_id`` column)."""
        kwargs = {"task_id": task_id_of(row)}
        if self.model:
            kwargs["model"] = self.model
        result = self._env.reset(**kwargs)
        self._reward, self._done = None, False
        self.observation = result.observation
        return None  # the dataset's prompt already holds the task

    def _step(self, action):
        if self._done:
            return "The episode is over: the answer was already submitted."
        result = self._env.step(action)
        if result.done:
            self._done = True
            self._reward = result.reward if result.reward is not None else 0.0
            self._env.close()
        return observation_text(result.observation)

    def submit(self, answer: str) -> str:
        """Submit the final answer; call it once, when done. It ends the episode.

        Args:
            answer: The final answer, as JSON text matching the task's answer format.
        """
        try:
            value = json.loads(answer)
        except (TypeError, ValueError):
            value = answer
        return self._step({"type": "submit", "answer": value})

    def get_reward(self) -> float:
        """The verifier's reward of the submitted answer; 0.0 when nothing was submitted."""
        return float(self._reward) if self._reward is not None else 0.0

    def close(self):
        self._env.close()

    def __del__(self):  # an episode left open (never submitted) ends with its object
        try:
            self._env.close(wait=False)
        except Exception:
            pass


def _tool_method(tool_name, schema):
    fn = schema.get("function", schema)
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    required = set(params.get("required") or [])
    sig_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations = {}
    doc_args = []
    # Required parameters first (a Python signature needs defaults last).
    for name in sorted(props, key=lambda n: n not in required):
        if not name.isidentifier() or keyword.iskeyword(name):
            continue  # not expressible as a keyword argument
        spec = props[name] if isinstance(props[name], dict) else {}
        py_type = _JSON_TYPES.get(spec.get("type"), str)
        annotations[name] = py_type
        default = inspect.Parameter.empty if name in required else None
        sig_params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=py_type))
        doc_args.append(f"    {name}: {spec.get('description') or spec.get('type') or 'value'}")
    annotations["return"] = str

    def method(self, **kwargs):
        args = {k: v for k, v in kwargs.items() if v is not None or k in required}
        return self._step({"type": "call_tool", "tool_name": tool_name, "arguments": args})

    method.__name__ = _identifier(tool_name)
    method.__signature__ = inspect.Signature(sig_params, return_annotation=str)
    method.__annotations__ = annotations
    description = fn.get("description") or f"The {tool_name} tool."
    method.__doc__ = description + ("\n\nArgs:\n" + "\n".join(doc_args) if doc_args else "")
    return method


def make_environment_class(base_url, tools, token=None, model=None, name="EnvforgeEnvironment", timeout_s=60.0):
    """A subclass of EnvforgeTrlEnv with one public method per tool schema (``submit`` is
    always there). ``tools`` is a list of OpenAI function schemas or a JSON text of one."""
    if isinstance(tools, str):
        tools = json.loads(tools)
    attrs = {"base_url": base_url, "token": token, "model": model, "timeout_s": timeout_s}
    for schema in tools:
        fn = schema.get("function", schema)
        tool_name = fn.get("name")
        if not tool_name or tool_name == "submit":
            continue
        ident = _identifier(tool_name)
        if ident in attrs or hasattr(EnvforgeTrlEnv, ident):
            continue  # a name that would shadow the episode's own methods
        attrs[ident] = _tool_method(tool_name, schema)
    return type(name, (EnvforgeTrlEnv,), attrs)

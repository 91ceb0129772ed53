"""OpenEnv-style client of an envforge server: one episode per WebSocket (``/ws``), with
reset / step / state / close. ``AsyncEnvforgeEnv`` is the asyncio client (for verl and
OpenRLHF); ``EnvforgeEnv`` the same API for synchronous code (TRL, SkyRL), run on one
background event loop shared by every client of the process."""

import asyncio
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

try:  # websockets >= 13: the new asyncio implementation
    from websockets.asyncio.client import connect as _ws_connect
    _HEADERS_ARG = "additional_headers"
except ImportError:  # Debian 12's websockets 10.4
    from websockets import connect as _ws_connect
    _HEADERS_ARG = "extra_headers"

from .errors import CapacityReached, EnvforgeError, error_from


@dataclass
class StepResult:
    """One reply of the environment, as OpenEnv has it."""
    observation: dict
    reward: float | None = None
    done: bool = False
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_data(cls, data):
        return cls(observation=data.get("observation") or {}, reward=data.get("reward"),
                   done=bool(data.get("done")), raw=data)


def ws_url(base_url):
    """``http://host:port`` -> ``ws://host:port/ws`` (https -> wss)."""
    parts = urllib.parse.urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if not scheme or not parts.netloc:
        raise ValueError(f"server url {base_url!r}: expected http://host:port")
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class AsyncEnvforgeEnv:
    """One connection, one episode at a time.

    ``timeout_s`` bounds every reply (tools run up to their own limit on the server);
    ``capacity_wait_s`` > 0 retries a reset refused with CAPACITY_REACHED, with jittered
    backoff, for up to that long."""

    def __init__(self, base_url="http://127.0.0.1:8000", token=None, timeout_s=60.0,
                 capacity_wait_s=0.0, max_message_bytes=16 * 1024 * 1024):
        self.base_url = base_url
        self.token = token
        self.timeout_s = timeout_s
        self.capacity_wait_s = capacity_wait_s
        self.max_message_bytes = max_message_bytes
        self._ws = None
        self._lock = asyncio.Lock()
        self.last = None  # the last StepResult

    async def connect(self):
        if self._ws is None:
            headers = {"Authorization": "Bearer " + self.token} if self.token else {}
            kwargs = {_HEADERS_ARG: headers, "max_size": self.max_message_bytes,
                      "open_timeout": self.timeout_s, "ping_interval": None}
            try:
                self._ws = await _ws_connect(ws_url(self.base_url), **kwargs)
            except (OSError, asyncio.TimeoutError) as e:
                raise EnvforgeError(f"{self.base_url}: {e}", code="UNREACHABLE") from None
            except Exception as e:  # the upgrade was refused (401, 503, ...)
                raise EnvforgeError(f"{self.base_url}: {e}", code="CONNECT_FAILED") from None
        return self

    async def _call(self, message):
        await self.connect()
        async with self._lock:  # one reply per message, in order
            try:
                await self._ws.send(json.dumps(message))
                text = await asyncio.wait_for(self._ws.recv(), self.timeout_s)
            except asyncio.TimeoutError:
                await self._drop()
                raise EnvforgeError(f"no reply within {self.timeout_s} s", code="TIMEOUT") from None
            except Exception as e:  # the connection closed
                await self._drop()
                raise EnvforgeError(f"connection lost: {e}", code="CONNECTION_CLOSED") from None
        try:
            reply = json.loads(text)
        except ValueError:
            raise EnvforgeError(f"server sent non-JSON: {text[:200]!r}", code="INVALID_REPLY") from None
        if reply.get("type") == "error":
            raise error_from(reply.get("data"))
        return reply

    async def _drop(self):
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await ws.close()
            except Exception:
                pass

    async def reset(self, **kwargs):
        """Starts an episode: ``task_id=`` or a ``seed=`` with ``category``/``difficulty``
        filters; ``model=`` names the policy for the recorded rollout."""
        deadline = time.monotonic() + self.capacity_wait_s
        delay = 0.05
        while True:
            try:
                reply = await self._call({"type": "reset", "data": kwargs})
                break
            except CapacityReached:
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
        self.last = StepResult.from_data(reply.get("data") or {})
        return self.last

    async def step(self, action, timeout_s=None):
        """Any OpenEnv action dict (``call_tool``, ``submit``, ``list_tools``)."""
        action = dict(action)
        if timeout_s is not None:
            action["timeout_s"] = timeout_s
        reply = await self._call({"type": "step", "data": action})
        self.last = StepResult.from_data(reply.get("data") or {})
        return self.last

    async def call_tool(self, tool_name, arguments=None, timeout_s=None):
        return await self.step({"type": "call_tool", "tool_name": tool_name, "arguments": arguments or {}},
                               timeout_s=timeout_s)

    async def submit(self, answer):
        return await self.step({"type": "submit", "answer": answer})

    async def list_tools(self):
        result = await self.step({"type": "list_tools"})
        return result.observation.get("tools", [])

    async def state(self):
        reply = await self._call({"type": "state"})
        return reply.get("data") or {}

    async def mcp(self, method, params=None, request_id=1):
        """JSON-RPC on this connection's episode; returns the whole JSON-RPC response."""
        reply = await self._call({"type": "mcp", "data": {"jsonrpc": "2.0", "id": request_id,
                                                         "method": method, "params": params or {}}})
        return reply.get("data") or {}

    async def close(self):
        """Ends the episode (the server records it) and the connection."""
        if self._ws is None:
            return
        try:
            await self._ws.send(json.dumps({"type": "close"}))
        except Exception:
            pass
        await self._drop()

    @property
    def connected(self):
        return self._ws is not None

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc):
        await self.close()


class _BackgroundLoop:
    """One event loop thread for all synchronous clients of the process."""
    _lock = threading.Lock()
    _loop = None

    _thread = None

    @classmethod
    def submit(cls, coro):
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                cls._thread = threading.Thread(target=loop.run_forever, name="envforge-client", daemon=True)
                cls._thread.start()
                cls._loop = loop
        if threading.current_thread() is cls._thread:
            coro.close()
            raise RuntimeError("a synchronous envforge client was called from its own event loop; "
                               "use AsyncEnvforgeEnv in async code")
        return asyncio.run_coroutine_threadsafe(coro, cls._loop)

    @classmethod
    def run(cls, coro, timeout=None):
        return cls.submit(coro).result(timeout)


class EnvforgeEnv:
    """The synchronous twin of ``AsyncEnvforgeEnv`` (same arguments and methods)."""

    def __init__(self, base_url="http://127.0.0.1:8000", token=None, timeout_s=60.0, capacity_wait_s=0.0,
                 max_message_bytes=16 * 1024 * 1024):
        self._env = None
        self._args = dict(base_url=base_url, token=token, timeout_s=timeout_s, capacity_wait_s=capacity_wait_s,
                          max_message_bytes=max_message_bytes)

    def _run(self, make):
        async def go():
            if self._env is None:  # created on the loop it will live on
                self._env = AsyncEnvforgeEnv(**self._args)
            return await make(self._env)
        return _BackgroundLoop.run(go())

    def connect(self):
        self._run(lambda e: e.connect())
        return self

    def reset(self, **kwargs):
        return self._run(lambda e: e.reset(**kwargs))

    def step(self, action, timeout_s=None):
        return self._run(lambda e: e.step(action, timeout_s=timeout_s))

    def call_tool(self, tool_name, arguments=None, timeout_s=None):
        return self._run(lambda e: e.call_tool(tool_name, arguments, timeout_s=timeout_s))

    def submit(self, answer):
        return self._run(lambda e: e.submit(answer))

    def list_tools(self):
        return self._run(lambda e: e.list_tools())

    def state(self):
        return self._run(lambda e: e.state())

    def mcp(self, method, params=None, request_id=1):
        return self._run(lambda e: e.mcp(method, params, request_id))

    def close(self, wait=True):
        """Ends the episode and the connection; ``wait=False`` only schedules it (for
        finalizers, which must not block)."""
        env = self._env
        if env is None or not env.connected:
            return
        if wait:
            self._run(lambda e: e.close())
        else:
            _BackgroundLoop.submit(env.close())

    @property
    def last(self):
        return self._env.last if self._env else None

    @property
    def connected(self):
        return bool(self._env and self._env.connected)

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

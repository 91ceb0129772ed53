"""HTTP routes of an envforge server (standard library only): health, tasks, verify, the
OpenRLHF reward, stateless reset/step and MCP."""

import json
import urllib.error
import urllib.parse
import urllib.request

from .errors import EnvforgeError, error_from


class EnvforgeHttp:
    def __init__(self, base_url="http://127.0.0.1:8000", token=None, timeout_s=180.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _request(self, method, path, body=None, query=None):
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raw = e.read().decode("utf-8", "replace")
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"detail": raw or e.reason, "code": "HTTP_%d" % e.code}
            raise error_from(payload, status=e.code) from None
        except urllib.error.URLError as e:
            raise EnvforgeError(f"{url}: {e.reason}", code="UNREACHABLE") from None

    def health(self):
        return self._request("GET", "/health")

    def metadata(self):
        return self._request("GET", "/metadata")

    def schema(self):
        return self._request("GET", "/schema")

    def stats(self):
        return self._request("GET", "/stats")

    def tasks(self, category=None, difficulty=None, usable_only=True, offset=0, limit=100):
        """One page: ``{"tasks": [...], "total", "offset", "limit", "next_offset"}``."""
        return self._request("GET", "/tasks", query={
            "category": category, "difficulty": difficulty,
            "usable_only": "true" if usable_only else "false", "offset": offset, "limit": limit})

    def iter_tasks(self, **filters):
        """Every task matching the filters, page after page."""
        offset = 0
        while offset is not None:
            page = self.tasks(offset=offset, **filters)
            yield from page["tasks"]
            offset = page.get("next_offset")

    def verify(self, task_id, answer):
        """``{"task_id", "reward", "components": {"pass", "score", "reason", "verdict"}}``."""
        return self._request("POST", "/verify", {"task_id": task_id, "answer": answer})

    def get_reward(self, query, prompts, labels):
        """OpenRLHF's remote reward contract: ``{"rewards", "scores", "extra_logs"}``."""
        return self._request("POST", "/get_reward", {"query": list(query), "prompts": list(prompts),
                                                      "labels": list(labels)})

    def reset(self, **kwargs):
        """Stateless OpenEnv reset: the first observation of a task; nothing lives on."""
        return self._request("POST", "/reset", kwargs)

    def step(self, action, task_id, timeout_s=None, request_id=None):
        """Stateless OpenEnv step on a fresh copy of the task's world."""
        body = {"action": action, "task_id": task_id}
        if timeout_s is not None:
            body["timeout_s"] = timeout_s
        if request_id is not None:
            body["request_id"] = request_id
        return self._request("POST", "/step", body)

    def mcp(self, method, params=None, request_id=1):
        """One JSON-RPC 2.0 call on ``/mcp``; returns ``result`` or raises with the error."""
        reply = self._request("POST", "/mcp", {"jsonrpc": "2.0", "id": request_id, "method": method,
                                               "params": params or {}})
        if "error" in reply:
            err = reply["error"]
            data = err.get("data") or {}
            raise error_from({"message": err.get("message"), "code": data.get("code") or str(err.get("code")),
                              **data})
        return reply["result"]

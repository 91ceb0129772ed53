# envforge Python harness: runs inside the sandbox, speaks JSON lines.
#
# Request:  {"id": N, "module": "verify", "function": "verify", "args": {...}}
#           {"id": N, "op": "ping"}
# Response: {"id": N, "ok": true, "value": ..., "stdout": "..."}
#           {"id": N, "ok": false, "error_type": "...", "message": "...", "traceback": "...", "stdout": "..."}
#
# The protocol runs over private copies of stdin/stdout; user code sees /dev/null as
# stdin and its prints are captured (fd-level writes go to stderr). With isolation on,
# user code never runs in this process: each call runs in a fresh fork (forked ahead of
# time, see _Spare), and only the JSON it hands back through a pipe is relayed,
# re-framed with the request id here.
import gc
import importlib
import io
import json
import os
import re
import sys
import traceback

PROTO_IN = os.fdopen(os.dup(0), "rb")
PROTO_OUT = os.dup(1)
_null = os.open("/dev/null", os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.dup2(2, 1)
sys.stdin = open(os.devnull)
sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)

WORK = "/work"
ISOLATE = os.environ.get("ENVFORGE_ISOLATE", "1") == "1"
MAX_RESULT = int(os.environ.get("ENVFORGE_MAX_RESULT", str(4 << 20)))
MAX_STDOUT = 64 << 10
os.chdir(WORK)
sys.path.insert(0, WORK)
sys.dont_write_bytecode = True

# Warm the standard modules generated code usually needs, so forks start hot.
for _name in ("sqlite3", "re", "math", "datetime", "collections", "itertools", "functools",
              "decimal", "statistics", "string", "random", "hashlib", "heapq", "bisect"):
    try:
        __import__(_name)
    except Exception:
        pass

# Not dumpable: call processes run as the same uid and must not reach this process (or
# the next call's process, which inherits this) through /proc/PID/mem.
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
except Exception:
    pass

_dumps = json.dumps
_loads = json.loads
_write = os.write


def _encode(resp, req):
    """The response as JSON bytes; a value JSON cannot hold becomes the call's BadResult.
    The value is serialized once, here: checking it first in _call cost a second pass."""
    try:
        return _dumps(resp, ensure_ascii=True, allow_nan=False).encode("ascii")
    except (TypeError, ValueError, RecursionError) as e:
        where = "%s.%s" % (req.get("module"), req.get("function")) if isinstance(req, dict) else "the call"
        bad = {"ok": False, "error_type": "BadResult",
               "message": "result of %s is not JSON-serializable: %s" % (where, str(e)[:300])}
        if isinstance(resp.get("stdout"), str):
            bad["stdout"] = resp["stdout"]
        if "id" in resp:
            bad["id"] = resp["id"]
        return _dumps(bad, ensure_ascii=True).encode("ascii")


def _send(obj, req=None):
    data = _encode(obj, req) + b"\n"
    view = memoryview(data)
    while view:
        n = _write(PROTO_OUT, view)
        view = view[n:]


def _valid_name(name, dotted):
    if not isinstance(name, str) or not name:
        return False
    parts = name.split(".") if dotted else [name]
    return all(p.isidentifier() and not p.startswith("__") for p in parts)


class _Capped(io.StringIO):
    def write(self, s):
        if self.tell() < MAX_STDOUT:
            return super().write(s[: MAX_STDOUT - self.tell()])
        return len(s)


def _call(req, pre_stdout=""):
    """Runs one call; returns the response dict (without id)."""
    module, function, args = req.get("module"), req.get("function"), req.get("args", {})
    if not _valid_name(module, True):
        return {"ok": False, "error_type": "BadRequest", "message": "invalid module name %r" % (module,)}
    if not _valid_name(function, False):
        return {"ok": False, "error_type": "BadRequest", "message": "invalid function name %r" % (function,)}
    if not isinstance(args, dict):
        return {"ok": False, "error_type": "BadRequest", "message": "args must be a JSON object"}
    captured = _Capped()
    captured.write(pre_stdout)
    real_stdout = sys.stdout
    sys.stdout = captured
    try:
        mod = importlib.import_module(module)
        fn = getattr(mod, function, None)
        if not callable(fn):
            return {"ok": False, "error_type": "AttributeError",
                    "message": "module %r has no function %r" % (module, function), "stdout": captured.getvalue()}
        return {"ok": True, "value": fn(**args), "stdout": captured.getvalue()}
    except BaseException as e:  # SystemExit and KeyboardInterrupt are the call's errors too
        return {"ok": False, "error_type": type(e).__name__, "message": str(e)[:4096],
                "traceback": traceback.format_exc()[-16384:], "stdout": captured.getvalue()}
    finally:
        sys.stdout = real_stdout


class _Spare:
    """A call process forked ahead of time: it has already imported the modules earlier
    calls used and waits for its one request, so a call costs a pipe round trip, not a
    fork plus imports. It is forked from this process while no user code has run here."""

    def __init__(self):
        req_r, self.req_w = os.pipe()
        self.res_r, res_w = os.pipe()
        gc.freeze()  # keep the child's collector off the parent's pages (fewer copies)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.req_w)
                os.close(self.res_r)
                os.close(PROTO_OUT)
                PROTO_IN.close()
                _child_main(req_r, res_w)
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(res_w)


_PRELOAD = []        # modules earlier calls imported (in their own processes)
_PRELOAD_MAX = 32
_preload_ok = True   # off for good once a preload killed a spare
_spare = None


def _child_main(req_r, res_w):
    pre = {}
    for name in _PRELOAD:
        captured = _Capped()
        real_stdout = sys.stdout
        sys.stdout = captured
        try:
            importlib.import_module(name)
        except BaseException:
            pass  # the call that wants this module imports it again and reports why
        finally:
            sys.stdout = real_stdout
        pre[name] = captured.getvalue()
    os.write(res_w, b"R")  # ready: whatever ends this process from now on, the call did
    chunks = []
    while True:
        chunk = os.read(req_r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(req_r)
    if not chunks:
        return  # discarded unused
    req = None
    try:
        req = _loads(b"".join(chunks))
        resp = _call(req, pre.get(req.get("module"), ""))
    except Exception as e:  # e.g. nested past this process's parser depth: still an answer
        resp = {"ok": False, "error_type": "BadRequest", "message": "%s: %s" % (type(e).__name__, e)}
    data = _encode(resp, req)
    view = memoryview(data)
    while view:
        n = os.write(res_w, view)
        view = view[n:]
    os.close(res_w)


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _ensure_spare():
    global _spare
    if _spare is None:
        _reap()
        _spare = _Spare()


def _run_in_spare(data):
    """Hands one request to the spare; returns (ready, result bytes, total, process)."""
    global _spare
    _ensure_spare()
    sp, _spare = _spare, None
    try:
        view = memoryview(data)
        while view:
            n = os.write(sp.req_w, view)
            view = view[n:]
    except BrokenPipeError:
        pass  # it died before its request: told by the missing ready mark below
    os.close(sp.req_w)
    chunks, total = [], 0
    while True:
        chunk = os.read(sp.res_r, 1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if total <= MAX_RESULT + 1:
            chunks.append(chunk)
    os.close(sp.res_r)
    out = b"".join(chunks)
    ready = out[:1] == b"R"
    return ready, out[1:], total - 1, sp.pid


def _call_isolated(req):
    global _preload_ok
    module = req.get("module")
    data = _dumps(req).encode("ascii")
    ready, result, total, pid = _run_in_spare(data)
    if not ready:
        # The spare died before it took the request: a preloaded module ended it. Forget
        # the preloads for good and run the call in a plain process.
        os.waitpid(pid, 0)
        _preload_ok = False
        del _PRELOAD[:]
        ready, result, total, pid = _run_in_spare(data)
    if _preload_ok and _valid_name(module, True) and module not in _PRELOAD and len(_PRELOAD) < _PRELOAD_MAX:
        _PRELOAD.append(module)
    if total > MAX_RESULT:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return {"ok": False, "error_type": "BadResult", "message": "result exceeds %d bytes" % MAX_RESULT}
    try:
        resp = _loads(result)
        if not isinstance(resp, dict) or not isinstance(resp.get("ok"), bool):
            raise ValueError("not a response object")
    except ValueError:
        # No (valid) result: the process crashed or wrote garbage; its status says which.
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            kind = "PolicyViolation" if sig == 31 else "Crash"
            return {"ok": False, "error_type": kind, "message": "the call's process was killed by signal %d" % sig}
        return {"ok": False, "error_type": "Crash", "message": "the call's process ended without a result"}
    # A complete result: the process is exiting; it is reaped before the next fork.
    out = {"ok": resp["ok"]}
    if resp["ok"]:
        out["value"] = resp.get("value")
    else:
        for k in ("error_type", "message", "traceback"):
            if isinstance(resp.get(k), str):
                out[k] = resp[k]
        out.setdefault("error_type", "Crash")
        out.setdefault("message", "")
    if isinstance(resp.get("stdout"), str):
        out["stdout"] = resp["stdout"][:MAX_STDOUT]
    return out


# The host writes the id first, so a line that cannot be parsed is still answered by its id.
_LINE_ID = re.compile(rb'\s*\{\s*"id"\s*:\s*(\d{1,18})\s*[,}]')


def _line_id(line):
    m = _LINE_ID.match(line)
    return int(m.group(1)) if m else None


def main():
    for line in PROTO_IN:
        try:
            req = _loads(line)
            rid = req.get("id") if isinstance(req, dict) else None
        except Exception as e:  # not JSON, or nested past the parser's depth (RecursionError)
            _send({"id": _line_id(line), "ok": False, "error_type": "BadRequest",
                   "message": "request is not JSON: %s: %s" % (type(e).__name__, str(e)[:300])})
            continue
        if not isinstance(req, dict):
            _send({"id": None, "ok": False, "error_type": "BadRequest", "message": "request is not an object"})
            continue
        if req.get("op") == "ping":
            _send({"id": rid, "ok": True, "value": "pong"})
            if ISOLATE:
                _ensure_spare()
            continue
        try:
            resp = _call_isolated(req) if ISOLATE else _call(req)
        except Exception as e:  # whatever the line holds, it gets an answer
            resp = {"ok": False, "error_type": "BadRequest",
                    "message": "the request could not be handled: %s: %s" % (type(e).__name__, str(e)[:300])}
        resp["id"] = rid
        try:
            _send(resp, req)
        except Exception as e:
            _send({"id": rid if isinstance(rid, int) else None, "ok": False, "error_type": "BadResult",
                   "message": str(e)[:300]})
        if ISOLATE:
            _ensure_spare()  # while the host reads the answer


main()

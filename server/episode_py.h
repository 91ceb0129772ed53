// The Python module every served environment's sandbox holds next to tools.py: it runs one
// tool or verifier call inside one episode's own world. The first call of an episode copies
// the environment's world database (read-only at /world/world.db) into a directory of its own
// under /tmp/episodes, named by an unguessable token the server picked; every call of the
// episode then runs with ENVFORGE_WORLD_DB pointing at that copy and that directory as its
// working directory, so writes -- through the tools' own connection, an ATTACH of a relative
// path, or a scratch file -- land in the episode's directory and nowhere another episode looks.
// A soft time limit (an interval timer raising in the call) ends runaway Python code without
// killing the interpreter that holds the other episodes' worlds. An episode whose copy was
// never written is verified against the base world itself. Tools keep their connections
// open between calls (one per world path), so every connection opened during an episode's
// calls is recorded and closed when the episode is dropped: thousands of episodes pass
// through one interpreter, and each left-open world would hold a descriptor and its tmpfs
// pages until the box ends.
#pragma once

namespace envforge::server {

inline constexpr const char* kEpisodeModuleName = "envforge_episode.py";

inline constexpr const char* kEpisodeModule = R"PY(
import importlib
import os
import re
import shutil
import signal
import sqlite3

_BASE = os.environ.get("ENVFORGE_WORLD_DB")
_ROOT = "/tmp/episodes"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_HOME = os.getcwd()
_opened = {}  # episode token -> the sqlite connections opened during its calls
_current = None
_connect = sqlite3.connect


def _tracked_connect(*args, **kwargs):
    con = _connect(*args, **kwargs)
    if _current is not None:
        _opened.setdefault(_current, []).append(con)
    return con


sqlite3.connect = _tracked_connect


class CallTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise CallTimeout("the call ran past its time limit")


def _episode_dir(token):
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise ValueError("bad episode token")
    return os.path.join(_ROOT, token)


def _world(token, create):
    d = _episode_dir(token)
    world = os.path.join(d, "world.db")
    if create and not os.path.isdir(d):
        os.makedirs(d, mode=0o700)
        if _BASE:
            shutil.copyfile(_BASE, world)
            st = os.stat(_BASE)  # the copy keeps the base's times: _pristine tells an unwritten copy
            os.utime(world, ns=(st.st_atime_ns, st.st_mtime_ns))
    return d, world


def _pristine(d, world):
    """Whether the episode's world copy was never written: same size and modification time
    as the base, and no journal or WAL beside it."""
    try:
        a, b = os.stat(world), os.stat(_BASE)
        if (a.st_size, a.st_mtime_ns) != (b.st_size, b.st_mtime_ns):
            return False
        return not any(n.startswith("world.db-") for n in os.listdir(d))
    except OSError:
        return False


def _run(token, module, function, kwargs, timeout_s, world_arg, create=True):
    global _current
    if token and (create or os.path.isdir(_episode_dir(token))):
        d, world = _world(token, True)
        _current = token
        if not create and _BASE and _pristine(d, world):
            # Judged against the base, byte for byte the same: verifiers that load a world
            # once per path then load it once per box instead of once per episode.
            world = _BASE
    else:
        d, world = _HOME, _BASE
    saved_env = os.environ.get("ENVFORGE_WORLD_DB")
    if world:
        os.environ["ENVFORGE_WORLD_DB"] = world
    os.chdir(d)
    if world_arg:
        kwargs = dict(kwargs, world=world)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(float(timeout_s), 0.001))
    try:
        fn = getattr(importlib.import_module(module), function, None)
        if not callable(fn):
            raise AttributeError("module %r has no function %r" % (module, function))
        return fn(**kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        _current = None
        os.chdir(_HOME)
        if saved_env is None:
            os.environ.pop("ENVFORGE_WORLD_DB", None)
        else:
            os.environ["ENVFORGE_WORLD_DB"] = saved_env


def tool(episode, name, arguments, timeout_s):
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError("bad tool name %r" % (name,))
    return _run(episode, "tools", name, arguments, timeout_s, False)


def verify(episode, module, answer, task, timeout_s):
    # An episode that never called a tool is judged against the pristine world.
    return _run(episode, module, "verify", {"answer": answer, "task": task}, timeout_s, True, False)


def drop(episodes):
    for token in episodes:
        for con in _opened.pop(token, ()):
            try:
                con.close()
            except Exception:
                pass
        shutil.rmtree(_episode_dir(token), ignore_errors=True)
    return len(episodes)


def ping():
    return "pong"
)PY";

}  // namespace envforge::server



# ---------------------------------------------------------------- the agent's tools
# The workspace lives in /tmp/efws, unpacked from the world database on first use, so it
# persists across tool calls of one episode (each call may run in a fresh process).
import fnmatch as _fnmatch
import re
import subprocess as _subprocess

WS = os.environ.get("ENVFORGE_CODE_WS", "/tmp/efws")
_WORLD = os.environ.get("ENVFORGE_WORLD_DB", "/world/world.db")
_MAX_OUT = 12000


def _ws():
    marker = os.path.join(WS, ".efstart.json")
    if not os.path.exists(marker):
        meta, files, _ = load_world(_WORLD)
        for p, (t, r) in files.items():
            write_file(WS, p, t)
        with open(marker, "w") as f:
            json.dump({"files": {p: t for p, (t, r) in files.items()},
                       "roles": {p: r for p, (t, r) in files.items()}, "meta": meta}, f)
    with open(marker) as f:
        return json.load(f)


def _current():
    start = _ws()
    out = {}
    for root, dirs, names in os.walk(WS):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for n in names:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, WS)
            if rel == ".efstart.json" or os.path.islink(full):
                continue
            try:
                with open(full, encoding="utf-8") as f:
                    out[rel] = f.read()
            except (UnicodeDecodeError, OSError):
                pass
    return start, out


def _path(path):
    rel = safe_rel(path)
    if rel is None or rel == ".efstart.json":
        raise ValueError("path %r is not inside the workspace" % (path,))
    return rel


def _clip(text):
    return text if len(text) <= _MAX_OUT else text[:_MAX_OUT] + "\n... (%d more characters)" % (len(text) - _MAX_OUT)


def list_files(path=""):
    """Files of the workspace (under `path`)."""
    _, cur = _current()
    pre = (_path(path) + "/") if path else ""
    return {"files": sorted(p for p in cur if p.startswith(pre))}


def read_file(path, start_line=1, end_line=None):
    """Numbered lines of a file."""
    _, cur = _current()
    rel = _path(path)
    if rel not in cur:
        return {"error": "no such file: %s" % path}
    lines = cur[rel].splitlines()
    lo = max(1, int(start_line))
    hi = min(len(lines), int(end_line) if end_line is not None else lo + 399)
    return {"path": rel, "lines": len(lines),
            "text": _clip("".join("%5d  %s\n" % (i, lines[i - 1]) for i in range(lo, hi + 1)))}


def search_code(pattern, path_glob="*"):
    """Lines matching a regular expression, as path:line: text."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        return {"error": "bad pattern: %s" % e}
    _, cur = _current()
    hits = []
    for p in sorted(cur):
        if not _fnmatch.fnmatch(p, path_glob):
            continue
        for i, l in enumerate(cur[p].splitlines(), 1):
            if rx.search(l):
                hits.append("%s:%d: %s" % (p, i, l.strip()[:200]))
                if len(hits) >= 100:
                    return {"matches": hits, "truncated": True}
    return {"matches": hits, "truncated": False}


def edit_file(path, old_text, new_text):
    """Replaces the one occurrence of old_text in a file by new_text."""
    _, cur = _current()
    rel = _path(path)
    if rel not in cur:
        return {"error": "no such file: %s" % path}
    n = cur[rel].count(old_text) if old_text else 0
    if n != 1:
        return {"error": "old_text occurs %d times in %s; it must occur exactly once" % (n, rel)}
    write_file(WS, rel, cur[rel].replace(old_text, new_text, 1))
    return {"ok": True, "path": rel}


def apply_patch(diff):
    """Applies a unified diff to the workspace."""
    _, cur = _current()
    try:
        new = apply_diff(cur, diff)
    except PatchError as e:
        return {"error": str(e)}
    for p in set(cur) - set(new):
        os.remove(os.path.join(WS, p))
    for p, t in new.items():
        if cur.get(p) != t:
            write_file(WS, p, t)
    return {"ok": True, "changed": sorted(p for p in set(cur) | set(new) if cur.get(p) != new.get(p))}


def show_diff():
    """The diff of the workspace against its start: the answer to submit."""
    start, cur = _current()
    return {"diff": make_diff(start["files"], cur)}


def run_tests(tests=None):
    """Runs the visible tests (all, or the given ids such as test_mod.Class.test_name)."""
    start, cur = _current()
    meta = start["meta"]
    mods = json.loads(meta["visible_test_modules"])
    srcs = {p: t for p, t in cur.items() if p.endswith(".py") and not p.startswith("tests/")}
    tests_files = {os.path.basename(p): t for p, t in cur.items() if p.startswith("tests/")}
    srcs.update(tests_files)
    _, _, base = load_world(_WORLD) if not meta.get("base_in_box") else (None, None, {})
    root = base_root(meta, base)
    drop = json.loads(meta["drop_modules"]) + mods
    only = list(tests) if tests else None
    r = run_tests_impl(srcs, root, drop, mods, only=only, timeout=60.0)
    if r["timed_out"]:
        return {"error": "the tests ran past 60 s"}
    counts = {}
    for st, _ in r["outcomes"].values():
        counts[st] = counts.get(st, 0) + 1
    fails = ["%s: %s\n%s" % (t, st, txt) for t, (st, txt) in sorted(r["outcomes"].items()) if st in ("fail", "error")]
    fails += ["could not load %s:\n%s" % (m, txt) for m, txt in r["load_errors"].items()]
    return {"counts": counts, "failures": _clip("\n".join(fails[:20])), "crashed": r["crashed"]}


def run_python(code, timeout_s=10):
    """Runs Python code with the workspace first on sys.path; returns its output."""
    start = _ws()
    # Neither the world database (hidden tests) nor the base tree's clean copies of the
    # workspace's sources are the agent's to read.
    world_dir = os.path.abspath(os.path.dirname(_WORLD) or ".") + "/"
    blocked = [world_dir] if not (WS + "/").startswith(world_dir) else [os.path.abspath(_WORLD)]
    root = start["meta"].get("base_in_box")
    if root:
        blocked += [os.path.join(root, p) for p, r in start["roles"].items() if r == "source"]
        blocked += [os.path.join(root, os.path.dirname(p), "__pycache__",
                                 os.path.basename(p)[:-3] + ".") for p, r in start["roles"].items() if r == "source"]
    guard = ("import sys, os\nsys.path.insert(0, %r)\n"
             "def _h(ev, a, _b=%r):\n"
             "    if ev == 'open' and isinstance(a[0], str):\n"
             "        p = os.path.abspath(a[0])\n"
             "        if any(p == b or p.startswith(b) for b in _b):\n"
             "            raise PermissionError('%%s is not part of the workspace' %% a[0])\n"
             "sys.addaudithook(_h)\n" % (WS, blocked))
    try:
        p = _subprocess.run([sys.executable, "-c", guard + "exec(compile(%r, '<run_python>', 'exec'))" % code],
                            cwd=WS, capture_output=True, text=True, timeout=min(float(timeout_s), 30.0))
    except _subprocess.TimeoutExpired:
        return {"error": "the code ran past %s s" % timeout_s}
    return {"exit_code": p.returncode, "stdout": _clip(p.stdout), "stderr": _clip(p.stderr)}

# envforge code environments: the pieces that run inside the sandbox, shared by the
# generator (mutations, test selection), tools.py (the agent's workspace) and verify.py
# (a diff applied to a clean tree, tests restored, the selected tests run). Unified diffs
# are in diffs.py; the two are joined into one codebox module wherever they run.
#
# A repository here is a base tree (a directory every box sees, such as
# /usr/lib/python3.11, or one unpacked from the world database) plus the files a task
# may change. A test run puts a directory holding those files first on sys.path, so the
# base tree is never written; each run is a fresh fork of this warm interpreter that
# drops the modules under test, imports them again and runs unittest tests by id.
import ast
import importlib._bootstrap_external
import importlib.util
import io
import json
import os
import select
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
import unittest

try:  # the standard library's own test helpers, when the test suite is installed
    import test.support  # noqa: F401
    from test.support import import_helper  # noqa: F401
except Exception:
    pass

MAX_TRACE = 2000


# ---------------------------------------------------------------- the world database

_WORLD = (None, None)  # (version of the file, what it holds): a verifier reads one world


def load_world(path):
    """Everything a code world holds: meta (dict), files {path: (text, role)}, base files.
    A verifier reads the same world for every answer: it is read once for each version of
    the file (path, device, inode, size, modification time). Callers must not change what
    it returns."""
    global _WORLD
    st = os.stat(path)
    key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if _WORLD[0] != key:
        _WORLD = (key, _read_world(path))
    return _WORLD[1]


def _read_world(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        files = {p: (t, r) for p, t, r in con.execute("SELECT path, content, role FROM files")}
        base = {p: t for p, t in con.execute("SELECT path, content FROM base_files")}
    finally:
        con.close()
    return meta, files, base


_base_dirs = {}


def base_root(meta, base):
    """The base tree's path in this box: a system tree, or the bundled one unpacked once."""
    if meta.get("base_in_box"):
        return meta["base_in_box"]
    key = meta.get("base_digest", "")
    if key in _base_dirs and os.path.isdir(_base_dirs[key]):
        return _base_dirs[key]
    root = tempfile.mkdtemp(prefix="efbase-")
    for rel, text in base.items():
        write_file(root, rel, text)
    _base_dirs[key] = root
    return root


def safe_rel(path):
    """A workspace-relative path, or None when it leaves the workspace."""
    if not isinstance(path, str) or not path or "\0" in path:
        return None
    p = path.replace("\\", "/")
    if p.startswith("/"):
        return None
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if not parts or any(x == ".." for x in parts):
        return None
    return "/".join(parts)


def write_file(root, rel, text):
    full = os.path.join(root, rel)
    os.makedirs(os.path.dirname(full) or root, exist_ok=True)
    with open(full, "w", encoding="utf-8") as f:
        f.write(text)


# ---------------------------------------------------------------- compiled sources
# A test run imports the files under test from a new directory, so each run would compile
# them again (tens of milliseconds for a module of a thousand lines, more than its tests
# take). This interpreter compiles each source text once (the syntax check of an answer
# and the mutant filter compile it anyway) and writes it beside the file as a checked
# hash-based .pyc: the import system checks the source's hash against it and loads it,
# naming the code after the file it was found at, as if it had compiled the file itself.

_CODE, _PYC = {}, {}


def compiled(text, filename="<source>"):
    """The code object of a module's source text (as the import system compiles it);
    raises SyntaxError (naming `filename`) like compile()."""
    code = _CODE.get(text)
    if code is None:
        code = compile(text.encode("utf-8"), filename, "exec", dont_inherit=True)
        if len(_CODE) > 64:
            _CODE.clear()
        _CODE[text] = code
    return code


def _write_pyc(root, rel, text):
    if not rel.endswith(".py"):
        return
    full = os.path.join(root, rel)
    pyc = importlib.util.cache_from_source(full)
    if not pyc.startswith(root.rstrip("/") + "/"):
        return  # a pycache prefix elsewhere: leave the import system to compile
    try:
        code = compiled(text, full)
    except (SyntaxError, ValueError):
        return  # the import reports it, as it would have without this
    data = _PYC.get(text)
    if data is None:
        data = importlib._bootstrap_external._code_to_hash_pyc(
            code, importlib.util.source_hash(text.encode("utf-8")), True)
        if len(_PYC) > 64:
            _PYC.clear()
        _PYC[text] = data
    os.makedirs(os.path.dirname(pyc), exist_ok=True)
    with open(pyc, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- test runs

class _Collect(unittest.TestResult):
    def __init__(self, stop_at_failure=False):
        super().__init__()
        self.stop_at_failure = stop_at_failure
        self.outcomes = {}
        self.defs = {}
        self.times = {}
        self.current = ""
        self._t0 = 0.0

    def startTest(self, test):
        super().startTest(test)
        self.current = test.id()
        fn = getattr(type(test), getattr(test, "_testMethodName", ""), None)
        if fn is not None and hasattr(fn, "__qualname__"):
            self.defs[self.current] = fn.__qualname__
        self._t0 = time.perf_counter()

    def stopTest(self, test):
        super().stopTest(test)
        self.times[test.id()] = round((time.perf_counter() - self._t0) * 1000, 2)
        self.current = ""

    def _put(self, test, state, err=None):
        tid = test.id()
        if state != "pass" and err is not None:
            text = self._exc_info_to_string(err, test)
            self.outcomes[tid] = [state, text[-MAX_TRACE:]]
            if self.stop_at_failure:
                self.shouldStop = True
        else:
            self.outcomes[tid] = [state, ""]

    def addSuccess(self, test):
        self._put(test, "pass")

    def addFailure(self, test, err):
        self._put(test, "fail", err)

    def addError(self, test, err):
        # an error in setUpClass / a module fixture is reported on a placeholder
        self._put(test, "error", err)

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = ["skip", str(reason)[:200]]

    def addExpectedFailure(self, test, err):
        self.outcomes[test.id()] = ["xfail", ""]

    def addUnexpectedSuccess(self, test):
        self.outcomes[test.id()] = ["fail", "unexpected success"]

    def addSubTest(self, test, subtest, err):
        if err is not None:
            state = "fail" if issubclass(err[0], test.failureException) else "error"
            self._put(test, state, err)
            self.failures.append((subtest, ""))


def _iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter_tests(t)
        else:
            yield t


# ---------------------------------------------------------------- warm imports
# Each test run is a fork that imports its test modules again, and with them everything
# they import (unittest.mock alone pulls in asyncio). A run's child reports which modules
# it imported and which modules each of them imported; when a second run of the same
# tests comes, this interpreter imports beforehand the ones that cannot see the code
# under test: those that import, directly or not, none of the dropped modules or test
# modules and hold no reference to them. A child drops again every module imported here
# that reaches its own dropped modules, so a run sees the same code as without this.

_SEEN = {}          # run key -> the first run's report of its imports
_EDGES = {}         # module -> modules it imported (as seen in children)
_WARMED = set()     # modules this interpreter imported for later runs
_WARM_KEYS = set()


def _import_recorder(edges):
    real = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__

    def recorder(name, globals=None, locals=None, fromlist=(), level=0):
        mod = real(name, globals, locals, fromlist, level)
        try:
            importer = (globals or {}).get("__name__")
            if importer:
                target = name
                if level:
                    import importlib.util
                    target = importlib.util.resolve_name("." * level + name, globals.get("__package__") or importer)
                got = edges.setdefault(importer, set())
                got.add(target)
                for item in fromlist or ():
                    if isinstance(item, str) and target + "." + item in sys.modules:
                        got.add(target + "." + item)
        except Exception:
            pass
        return mod
    return real, recorder


def _holds(module, names):
    """Whether a module's namespace refers to one of the named modules or their objects."""
    try:
        values = list(vars(module).values())
    except TypeError:
        return False
    for v in values:
        try:
            n = v.__name__ if isinstance(v, type(sys)) else getattr(v, "__module__", None)
        except Exception:
            return True  # cannot tell: not a module to keep warm
        if isinstance(n, str) and (n in names or n.split(".")[0] in names):
            return True
    return False


def _reaching(candidates, roots, edges):
    """The candidates that import one of roots, directly or through other candidates."""
    bad = set()
    grew = True
    while grew:
        grew = False
        for m in candidates:
            if m in bad:
                continue
            for t in edges.get(m, ()):
                if t in roots or t.split(".")[0] in roots or t in bad:
                    bad.add(m)
                    grew = True
                    break
    return bad


_DROP_LISTS = {}
_HOLDING = {}


def _drop_for_run(drop, test_modules):
    """Modules to import afresh in a child: the dropped ones, the test modules, and the
    warmed modules that reach either (worked out here, once per warm state)."""
    key = (tuple(sorted(drop)), tuple(test_modules), len(_WARMED), len(sys.modules))
    if key not in _DROP_LISTS:
        if len(_DROP_LISTS) > 256:
            _DROP_LISTS.clear()
        _DROP_LISTS[key] = _drop_list(drop, test_modules)
    return _DROP_LISTS[key]


def _drop_list(drop, test_modules):
    roots = set(drop) | set(test_modules)
    out = []
    for name in list(sys.modules):
        top = name.split(".")[0]
        if name in drop or top in drop or any(name == m or name.startswith(m + ".") for m in test_modules):
            out.append(name)
    if _WARMED:
        warmed = [m for m in _WARMED if m in sys.modules]
        key = tuple(sorted(roots))
        bad = set()
        for m in warmed:
            if (m, key) not in _HOLDING:  # a warmed module's namespace is looked at once per set of roots
                _HOLDING[(m, key)] = _holds(sys.modules[m], roots)
            if _HOLDING[(m, key)]:
                bad.add(m)
        bad |= _reaching(warmed, roots | bad, _EDGES)
        out += sorted(bad)
    return out


def _warm(key, base, overlay_prefix):
    """Imports here the modules the first run of `key` imported that cannot see its code."""
    seen = _SEEN.get(key)
    if key in _WARM_KEYS or seen is None:
        return
    _WARM_KEYS.add(key)
    drop, test_modules = set(key[1]), set(key[2])
    roots = drop | test_modules | set(seen["holding"])
    names = [n for n in seen["new"] if n not in roots and n.split(".")[0] not in drop]
    bad = _reaching(names, roots, _EDGES)
    # only modules this interpreter finds at the same place (a report comes from a child
    # that ran the code under test: it names modules, it never says where to import from)
    homes = tuple(p.rstrip("/") + "/" for p in sys.path if p and os.path.isabs(p) and not p.startswith(overlay_prefix))
    import importlib
    for n in names:
        f = seen["files"].get(n) or ""
        if (n in bad or n in sys.modules or not all(part.isidentifier() for part in n.split("."))
                or not f.startswith(homes) or f.startswith(overlay_prefix)):
            continue
        try:
            before = set(sys.modules)
            importlib.import_module(n)
        except BaseException:
            continue
        new = set(sys.modules) - before
        if (getattr(sys.modules.get(n), "__file__", None) or "") != f:
            # not the module the child saw: forget it (and what it brought along)
            for m in new:
                sys.modules.pop(m, None)
            continue
        _WARMED.update(new)


def _child_run(overlay, base, drop, test_modules, only, trace, coverage, stop_at_failure, record, fresh):
    sys.dont_write_bytecode = True
    for p in [base, overlay]:
        if p and p not in sys.path[:2]:
            sys.path.insert(0, p)
    for name in fresh:
        sys.modules.pop(name, None)
    edges, start = {}, set(sys.modules)
    if record:
        import builtins
        _, builtins.__import__ = _import_recorder(edges)
    # The overlay is a new directory; the finders of the base tree check its mtime
    # themselves (clearing every finder's cache would make each import list whole
    # directories again).
    for key in [k for k in sys.path_importer_cache if isinstance(k, str) and k.startswith(overlay)]:
        del sys.path_importer_cache[key]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    load_errors = {}
    for m in test_modules:
        try:
            suite.addTests(loader.loadTestsFromName(m))
        except BaseException:
            load_errors[m] = traceback.format_exc()[-MAX_TRACE:]
    if only is not None:
        keep = set(only)
        flat = [t for t in _iter_tests(suite) if t.id() in keep or t.id().startswith("unittest.loader")]
        suite = unittest.TestSuite(flat)
    result = _Collect(stop_at_failure)
    calls, cov = [], {}
    if trace or coverage:
        _start_profile(overlay, trace or [], calls, result, cov if coverage else None)
    suite.run(result)
    sys.settrace(None)
    imports = None
    if record:
        new = [n for n in sys.modules if n not in start]
        roots = set(drop) | set(test_modules)
        imports = {"new": new, "edges": {k: sorted(v) for k, v in edges.items()},
                   "files": {n: getattr(sys.modules[n], "__file__", None) or "" for n in new},
                   "holding": [n for n in new if _holds(sys.modules[n], roots)]}
    return {"imports": imports, "outcomes": result.outcomes, "load_errors": load_errors, "calls": calls, "times": result.times, "defs": result.defs,
            "coverage": {t: sorted(v) for t, v in cov.items()}}


def _start_profile(overlay, targets, calls, result, cov):
    """Records which functions of the overlay files each test calls (`cov`), and the
    arguments and results of the functions named in targets: [[file, qualname]], as
    reprs, for literal arguments and results only (`calls`). A trace function sees only
    the calls of Python functions (a profile function would see every call into C too);
    it follows a frame further only for the targets, and then only to its return."""
    want = {(f, q) for f, q in targets}
    pending = {}
    prefix = overlay.rstrip("/") + "/"

    def returned(frame, event, arg):
        if event == "return" and id(frame) in pending:
            a = pending.pop(id(frame))
            r = _literal_repr(arg) if a is not None and len(calls) < 200 else None
            if a is not None and r is not None:
                code = frame.f_code
                calls.append([code.co_filename[len(prefix):], code.co_qualname, a, r])
        return returned

    def on_call(frame, event, arg):
        code = frame.f_code
        fn = code.co_filename
        if not fn.startswith(prefix):
            return None
        rel = fn[len(prefix):]
        if cov is not None and result.current:
            cov.setdefault(result.current, set()).add(rel + ":" + code.co_qualname)
        if (rel, code.co_qualname) not in want or len(calls) >= 200:  # the table is full
            return None
        pending[id(frame)] = _args_repr(frame)
        frame.f_trace_lines = False
        return returned
    sys.settrace(on_call)


def _args_repr(frame):
    code = frame.f_code
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    names = code.co_varnames[:n]
    if names and names[0] in ("self", "cls"):
        return None
    vals = tuple(frame.f_locals.get(x) for x in names)
    return _literal_repr(vals)


_SIZED = (str, bytes, list, tuple, set, frozenset, dict)


def _surely_long(v, depth=2):
    """Whether repr(v) is surely longer than 2000 characters, told without making it: a
    string of 2000 characters or more, or a built-in container of over 700 items (each
    item takes a character and a separator at least), or one holding such a value."""
    t = type(v)
    if t not in _SIZED:
        return False
    if t in (str, bytes):
        return len(v) >= 2000
    if len(v) > 700:
        return True
    if depth > 0 and t in (list, tuple):
        return any(_surely_long(x, depth - 1) for x in v)
    return False


def _literal_repr(v):
    try:
        if _surely_long(v):
            return None
        r = repr(v)
        if len(r) > 2000 or ast.literal_eval(r) != v:
            return None
        return r
    except Exception:
        return None


def run_tests(files, base, drop, test_modules, only=None, timeout=20.0, trace=None, coverage=False,
              stop_at_failure=False, cpu_limit=None):
    return run_tests_impl(files, base, drop, test_modules, only, timeout, trace, coverage, stop_at_failure,
                          cpu_limit)


def run_tests_impl(files, base, drop, test_modules, only=None, timeout=20.0, trace=None, coverage=False,
                   stop_at_failure=False, cpu_limit=None):
    """Runs unittest tests in a fresh fork with `files` ({rel: text}) first on sys.path;
    stop_at_failure: no test runs after the first failure or error (a verdict that needs
    every test to pass is settled by then). cpu_limit: seconds of CPU the run may use
    before it counts as timed out, as well as `timeout` seconds of wall time (a run that
    loops forever is told apart as soon as it has used its CPU, however busy the machine).

    Returns {"outcomes": {test_id: [state, text]}, "load_errors": {...}, "timed_out": bool,
    "crashed": str, "wall_ms": int}. States: pass, fail, error, skip, xfail."""
    key = (base, tuple(sorted(drop)), tuple(test_modules))
    _warm(key, base, tempfile.gettempdir() + "/efrun-")
    record = key not in _SEEN
    fresh = _drop_for_run(set(drop), list(test_modules))
    overlay = tempfile.mkdtemp(prefix="efrun-")
    _mirror_parents(overlay, base, files)
    for rel, text in files.items():
        write_file(overlay, rel, text)
        _write_pyc(overlay, rel, text)
    rfd, wfd = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(rfd)
            os.setpgid(0, 0)
            if cpu_limit:  # past it the kernel ends the run (SIGPROF's default action)
                signal.signal(signal.SIGPROF, signal.SIG_DFL)
                signal.setitimer(signal.ITIMER_PROF, max(float(cpu_limit), 0.01))
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            res = _child_run(overlay, base, set(drop), list(test_modules), only, trace, coverage, stop_at_failure,
                             record, fresh)
            data = json.dumps(res).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view):]
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(wfd)
    chunks, timed_out, deadline = [], False, t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        r, _, _ = select.select([rfd], [], [], left)
        if r:
            b = os.read(rfd, 1 << 16)
            if not b:
                break
            chunks.append(b)
    os.close(rfd)
    if timed_out:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    if cpu_limit and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF:
        timed_out = True
        try:
            os.kill(-pid, signal.SIGKILL)  # whatever the run started
        except OSError:
            pass
    shutil.rmtree(overlay, ignore_errors=True)
    out = {"outcomes": {}, "load_errors": {}, "calls": [], "times": {}, "defs": {}, "coverage": {}, "timed_out": timed_out, "crashed": "",
           "wall_ms": int((time.monotonic() - t0) * 1000)}
    if not timed_out:
        try:
            out.update(json.loads(b"".join(chunks).decode()))
        except Exception:
            out["crashed"] = "the test process died (status %d)" % status
    imports = out.pop("imports", None)
    if imports and not out["crashed"] and not out["load_errors"]:
        _SEEN[key] = imports
        for k, v in imports["edges"].items():
            _EDGES.setdefault(k, set()).update(v)
    return out


def _mirror_parents(overlay, base, files):
    """A file inside a package shadows the base tree's copy only when its package directory
    is complete in the overlay: every other entry of each parent directory is linked in."""
    dirs = sorted({os.path.dirname(rel) for rel in files if "/" in rel})
    done = set()
    for d in dirs:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in done:
                continue
            done.add(sub)
            src = os.path.join(base, sub)
            dst = os.path.join(overlay, sub)
            os.makedirs(dst, exist_ok=True)
            if not os.path.isdir(src):
                continue
            for name in os.listdir(src):
                rel = sub + "/" + name
                if name == "__pycache__" or rel in files or any(x == rel or x.startswith(rel + "/") for x in dirs):
                    continue
                try:
                    os.symlink(os.path.join(src, name), os.path.join(dst, name))
                except OSError:
                    pass


def passed(run, tid):
    return run["outcomes"].get(tid, ["missing"])[0] == "pass"


# ---------------------------------------------------------------- verification

def verify_diff(answer, world, task):
    """Applies the answer (a unified diff) to the task's clean tree, restores every test
    file, and runs the fail-to-pass and pass-to-pass tests, hidden ones included."""
    try:
        meta, files, base = load_world(world)
    except Exception as e:
        return {"pass": False, "score": 0.0, "reason": "world: %s" % e, "constraint": "world"}
    sources = {p: t for p, (t, r) in files.items() if r == "source"}
    tests = {p for p, (t, r) in files.items() if r == "test"}
    if not isinstance(answer, str):
        return _fail("format", "the answer must be a unified diff string")
    if not answer.strip():
        return _fail("empty", "the diff is empty")
    try:
        parsed = parse_diff(answer)
        touched = {p for o, n, _ in parsed for p in (o, n) if p}
        foreign = sorted(p for p in touched if p not in sources and p not in tests)
        if foreign:
            return _fail("paths", "the diff touches files that are not sources of the workspace: %s"
                         % ", ".join(foreign[:5]))
        if any(o is None or n is None or o != n for o, n, _ in parsed if (o or n) in sources):
            return _fail("paths", "the diff may change sources but not create, delete or rename them")
        # restore every test file: only the source part of the diff is applied
        src_part = "".join(_file_section(answer, p) for p in sorted(touched & set(sources)))
        patched = apply_diff(sources, src_part) if src_part else dict(sources)
    except PatchError as e:
        return _fail("apply", "the diff does not apply: %s" % e)
    if patched == sources:
        # the task's own tree: its fail-to-pass tests failed on it twice when it was made
        return _fail("fail_to_pass", "the diff changes no source file (test files are restored before "
                     "the tests run), so the tests the bug fails still fail")
    for p, t in patched.items():
        try:
            compiled(t, p)  # the test run loads this code rather than compiling it again
        except (SyntaxError, ValueError) as e:
            return _fail("syntax", "%s does not compile: %s" % (p, e))
    root = base_root(meta, base)
    f2p, p2p = task["fail_to_pass"], task["pass_to_pass"]
    run = run_tests(patched, root, task["drop_modules"], task["test_modules"], only=f2p + p2p,
                    timeout=float(task.get("test_timeout_s", 30)), stop_at_failure=True)
    if run["timed_out"]:
        return _fail("timeout", "the tests ran past %ss" % task.get("test_timeout_s", 30))
    if run["crashed"]:
        return _fail("crash", run["crashed"])
    # the run stops at its first failure: name that one; a test that never ran fails too
    failed = [t for t in f2p + p2p if run["outcomes"].get(t, ["missing"])[0] not in ("pass", "missing")]
    missing = [t for t in f2p + p2p if t not in run["outcomes"]]
    for group, constraint, what in ((f2p, "fail_to_pass", "a test the bug fails still fails"),
                                    (p2p, "pass_to_pass", "a test that passed before the bug now fails")):
        bad = [t for t in failed if t in set(group)]
        if bad:
            return _fail(constraint, "%s: %s (%s)" % (what, bad[0], run["outcomes"][bad[0]][0]))
    if missing:
        return _fail("fail_to_pass", "%d of %d tests did not run, e.g. %s" % (len(missing), len(f2p + p2p), missing[0]))
    return {"pass": True, "score": 1.0, "constraint": "",
            "reason": "all %d fail-to-pass and %d pass-to-pass tests pass" % (len(f2p), len(p2p))}


def _fail(constraint, reason):
    return {"pass": False, "score": 0.0, "reason": "%s: %s" % (constraint, reason), "constraint": constraint}


def _file_section(diff, path):
    """The part of a diff that belongs to one file."""
    out, keep = [], False
    lines = diff.splitlines(True)
    for i, l in enumerate(lines):
        if l.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            try:
                o, n = _diff_path(l[4:]), _diff_path(lines[i + 1][4:])
            except PatchError:
                o = n = None
            keep = path in (o, n)
        if keep:
            out.append(l)
    return "".join(out)

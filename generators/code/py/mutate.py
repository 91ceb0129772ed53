# Bug synthesis for code environments: function-level AST mutations applied as small
# text edits (only the mutated expression or statement changes, so the rest of the file
# keeps its formatting and comments), and the selection of mutants by running tests.
import ast
import difflib
import random
import re
import textwrap

import codebox

KINDS = [
    "flip_comparison", "off_by_one", "swap_arguments", "remove_statement", "wrong_operator",
    "change_constant", "invert_condition", "early_return", "wrong_variable",
    "drop_exception_handling", "remove_branch", "flip_boolean",
]

_CMP_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_OP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
            ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
            ast.LShift: ast.RShift, ast.RShift: ast.LShift}


def functions(tree):
    """(qualname, node) of every function and method, nested classes included."""
    out = []

    def walk(body, prefix):
        for n in body:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((prefix + n.name, n))
            elif isinstance(n, ast.ClassDef):
                walk(n.body, prefix + n.name + ".")
    walk(tree.body, "")
    return out


def _own_nodes(fn):
    """Nodes of a function, not of functions or classes nested in it."""
    stack = list(fn.body)
    while stack:
        n = stack.pop()
        yield n
        for c in ast.iter_child_nodes(n):
            if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(c)


def _stmt_lists(fn):
    out = [fn.body]
    for n in _own_nodes(fn):
        for field in ("body", "orelse", "finalbody"):
            v = getattr(n, field, None)
            if isinstance(v, list) and v and isinstance(v[0], ast.stmt):
                out.append(v)
        if isinstance(n, ast.Try):
            out.extend(h.body for h in n.handlers)
    return out


def _local_names(fn):
    names = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
    for n in _own_nodes(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
    return sorted(names - {"self", "cls"})


def sites(source):
    """Every mutation this source allows: dicts with kind, function, line and the edit."""
    tree = ast.parse(source)
    out = []
    for qual, fn in functions(tree):
        if fn.name.startswith("__") and fn.name not in ("__init__", "__call__", "__eq__", "__lt__"):
            continue
        for site in _function_sites(fn):
            site["function"] = qual
            out.append(site)
    return out


def _expr_site(kind, node, new):
    return {"kind": kind, "line": node.lineno, "span": [node.lineno, node.col_offset, node.end_lineno,
                                                         node.end_col_offset], "text": ast.unparse(new)}


def _copy(node):
    return ast.parse(ast.unparse(node), mode="eval").body


def _function_sites(fn):
    out = []
    locals_ = _local_names(fn)
    doc = fn.body[0] if (fn.body and isinstance(fn.body[0], ast.Expr) and
                         isinstance(getattr(fn.body[0], "value", None), ast.Constant) and
                         isinstance(fn.body[0].value.value, str)) else None
    for n in _own_nodes(fn):
        if n is doc:
            continue
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _CMP_FLIP:
            new = _copy(n)
            new.ops = [_CMP_FLIP[type(n.ops[0])]()]
            out.append(_expr_site("flip_comparison", n, new))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "range" and n.args:
            arg = n.args[-1] if len(n.args) <= 2 else n.args[1]
            out.append(_expr_site("off_by_one", arg, ast.BinOp(_copy(arg), ast.Add(), ast.Constant(1))))
        if isinstance(n, ast.Slice):
            for part in (n.lower, n.upper):
                if part is not None and not isinstance(part, ast.Constant):
                    out.append(_expr_site("off_by_one", part, ast.BinOp(_copy(part), ast.Sub(), ast.Constant(1))))
        if isinstance(n, ast.Call) and len(n.args) >= 2 and not any(isinstance(a, ast.Starred) for a in n.args[:2]):
            a, b = n.args[0], n.args[1]
            if ast.dump(a) != ast.dump(b):
                new = _copy(n)
                new.args[0], new.args[1] = new.args[1], new.args[0]
                out.append(_expr_site("swap_arguments", n, new))
        if isinstance(n, ast.BinOp) and type(n.op) in _OP_SWAP:
            new = _copy(n)
            new.op = _OP_SWAP[type(n.op)]()
            out.append(_expr_site("wrong_operator", n, new))
        if isinstance(n, ast.BoolOp):
            new = _copy(n)
            new.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            out.append(_expr_site("wrong_operator", n, new))
        if isinstance(n, ast.Constant) and type(n.value) is int:
            out.append(_expr_site("change_constant", n, ast.Constant(n.value + (1 if n.value <= 1 else -1))))
        if isinstance(n, ast.Constant) and type(n.value) is bool:
            out.append(_expr_site("flip_boolean", n, ast.Constant(not n.value)))
        if isinstance(n, (ast.If, ast.While)):
            test = n.test
            new = test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else \
                ast.UnaryOp(ast.Not(), _copy(test))
            out.append(_expr_site("invert_condition", test, new))
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in locals_:
            others = [x for x in locals_ if x != n.id]
            if others:
                other = others[(n.lineno + n.col_offset) % len(others)]
                out.append(_expr_site("wrong_variable", n, ast.Name(other, ast.Load())))
        if isinstance(n, ast.Try) and n.handlers and len(n.body) >= 1:
            out.append({"kind": "drop_exception_handling", "line": n.lineno, "stmt": [n.lineno, n.end_lineno],
                        "body": [n.body[0].lineno, n.body[-1].end_lineno], "indent": n.col_offset,
                        "body_indent": n.body[0].col_offset})
        if isinstance(n, ast.If) and n.orelse and not (len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If)):
            first, last = n.orelse[0], n.orelse[-1]
            out.append({"kind": "remove_branch", "line": first.lineno, "else_from": n.body[-1].end_lineno + 1,
                        "lines": [first.lineno, last.end_lineno]})
    for body in _stmt_lists(fn):
        stmts = [s for s in body if s is not doc]
        if len(stmts) >= 2:
            for s in stmts:
                if isinstance(s, (ast.Assign, ast.AugAssign, ast.Expr)) and s.lineno == s.end_lineno:
                    out.append({"kind": "remove_statement", "line": s.lineno, "lines": [s.lineno, s.end_lineno],
                                "indent": s.col_offset, "alone": False})
                elif isinstance(s, ast.If) and not s.orelse:
                    out.append({"kind": "remove_branch", "line": s.lineno, "lines": [s.lineno, s.end_lineno],
                                "indent": s.col_offset, "alone": False})
    # early return: the function's final return placed before the statement in front of it
    top = [s for s in fn.body if s is not doc]
    if len(top) >= 2 and isinstance(top[-1], ast.Return):
        prev = top[-2]
        out.append({"kind": "early_return", "line": prev.lineno, "insert_before": prev.lineno,
                    "indent": prev.col_offset, "text": ast.unparse(top[-1])})
    return out


def apply_site(source, site):
    """The source with one mutation applied (only the mutated lines change)."""
    lines = source.splitlines(True)
    k = site["kind"]
    if "span" in site:
        l0, c0, l1, c1 = site["span"]
        a = lines[l0 - 1].encode()
        b = lines[l1 - 1].encode()
        text = site["text"]
        if l0 != l1:
            text = "(" + text + ")"
        new = (a[:c0] + text.encode() + b[c1:]).decode()
        lines[l0 - 1:l1] = [new]
    elif k in ("remove_statement", "remove_branch"):
        l0, l1 = site["lines"]
        block = lines[l0 - 1:l1]
        indent = site.get("indent")
        if "else_from" in site:  # an else branch: its header and body go
            hdr = site["else_from"]
            while hdr < l0 and not lines[hdr - 1].lstrip().startswith("else"):
                hdr += 1
            if hdr >= l0:
                raise ValueError("no else header")
            lines[hdr - 1:l1] = []
            return "".join(lines)
        lines[l0 - 1:l1] = [" " * indent + "pass\n"]
        del block
    elif k == "early_return":
        at = site["insert_before"]
        lines.insert(at - 1, " " * site["indent"] + site["text"] + "\n")
    elif k == "drop_exception_handling":
        s0, s1 = site["stmt"]
        b0, b1 = site["body"]
        shift = site["body_indent"] - site["indent"]
        body = [l[shift:] if l[:shift].strip() == "" else l for l in lines[b0 - 1:b1]]
        lines[s0 - 1:s1] = body
    else:
        raise ValueError("unknown mutation kind %s" % k)
    return "".join(lines)


def candidates(source, seed, kinds=None, limit=40):
    """Mutants of `source`, in a seeded order, one per (function, kind) pair first so that
    kinds and functions are spread. A generator of dicts (kind, function, line, ...) whose
    "source" (the mutant's text) is built only when asked for: most candidates are ruled
    out by what they mutate before anything runs. A mutant that does not compile or does
    not differ in meaning has None as its source."""
    rng = random.Random(seed)
    all_sites = [s for s in _sites_of(source) if kinds is None or s["kind"] in kinds]
    rng.shuffle(all_sites)
    seen_pairs, first, rest = set(), [], []
    for s in all_sites:
        key = (s["function"], s["kind"])
        (rest if key in seen_pairs else first).append(s)
        seen_pairs.add(key)
    for s in (first + rest)[:limit]:
        yield _Mutant(s, source)


class _Mutant(dict):
    def __init__(self, site, original):
        super().__init__(site)
        self._original = original

    def __missing__(self, key):
        if key != "source":
            raise KeyError(key)
        self["source"] = _build(self._original, self)
        return self["source"]


def _build(source, site):
    try:
        text = apply_site(source, site)
        tree = ast.parse(text)
        codebox.compiled(text)  # kept for the mutant's test runs
    except Exception:
        return None
    return None if ast.dump(tree) == _dump_of(source) else text


# The sites and the tree dump of a source: the same module is mutated by many tasks of
# one job (content-keyed, so a cached answer is the answer).
_SITES, _DUMPS = {}, {}


def _sites_of(source):
    if source not in _SITES:
        if len(_SITES) > 64:
            _SITES.clear()
        _SITES[source] = sites(source)
    return [dict(s) for s in _SITES[source]]


def _dump_of(source):
    if source not in _DUMPS:
        if len(_DUMPS) > 16:
            _DUMPS.clear()
        _DUMPS[source] = ast.dump(ast.parse(source))
    return _DUMPS[source]


# ---------------------------------------------------------------- model rewrites (--llm)
# A model rewrites one function with a subtle bug. The reply is only text: it becomes a
# candidate when it is valid Python holding one function of the same name, signature and
# decorators that really changes (a few lines, not the whole body); then its tests decide,
# exactly as for the AST mutants.

MAX_REPLY_CHARS = 20000
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)


def function_source(source, qual):
    """The text of one function (decorators included, dedented), or None."""
    node = dict(functions(ast.parse(source))).get(qual)
    if node is None:
        return None
    lines = source.splitlines(True)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return textwrap.dedent("".join(lines[start - 1:node.end_lineno]))


def _signature(fn):
    return ast.dump(fn.args) + "|" + (ast.dump(fn.returns) if fn.returns is not None else "")


def _statements(fn):
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return [ast.dump(x) for x in body]


def rewrite_candidate(source, qual, reply):
    """(candidate, "") for a model's rewrite of function `qual` of `source`, or (None, why)."""
    if not isinstance(reply, str) or not reply.strip():
        return None, "empty reply"
    if len(reply) > MAX_REPLY_CHARS:
        return None, "reply longer than %d characters" % MAX_REPLY_CHARS
    m = _FENCE.search(reply)
    text = textwrap.dedent(m.group(1) if m else reply)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        return None, "not valid Python"
    name = qual.split(".")[-1]
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if len(tree.body) != 1 or len(defs) != 1 or defs[0].name != name:
        return None, "not exactly one function named %s" % name
    orig = dict(functions(ast.parse(source))).get(qual)
    if orig is None:
        return None, "no function %s in the source" % qual
    new = defs[0]
    if type(new) is not type(orig) or _signature(new) != _signature(orig):
        return None, "changes the signature"
    if [ast.dump(d) for d in new.decorator_list] != [ast.dump(d) for d in orig.decorator_list]:
        return None, "changes the decorators"
    if _statements(new) == _statements(orig):
        return None, "no real change"
    lines = source.splitlines(True)
    start = min([orig.lineno] + [d.lineno for d in orig.decorator_list])
    new_lines = text.splitlines(True)
    new_start = min([new.lineno] + [d.lineno for d in new.decorator_list])
    body = new_lines[new_start - 1:new.end_lineno]
    old_body = [l.strip() for l in lines[start - 1:orig.end_lineno] if l.strip()]
    changed = sum(1 for op in difflib.ndiff(old_body, [l.strip() for l in body if l.strip()]) if op[:1] in "+-")
    if changed > max(6, len(old_body) // 2):
        return None, "changes too much for a subtle bug (%d lines)" % changed
    indent = " " * orig.col_offset
    body = [indent + l if l.strip() else l for l in body]
    if body and not body[-1].endswith("\n"):
        body[-1] += "\n"
    mutant = "".join(lines[:start - 1] + body + lines[orig.end_lineno:])
    try:
        mtree = ast.parse(mutant)
        compile(mtree, "<rewrite>", "exec")
    except Exception:
        return None, "does not fit into the module"
    if ast.dump(mtree) == _dump_of(source):
        return None, "no real change"
    return {"kind": "llm_rewrite", "function": qual, "line": orig.lineno, "source": mutant}, ""


# ---------------------------------------------------------------- generator entry points

def baseline(files, base, drop, test_modules, timeout=60.0, max_test_ms=200.0):
    """Runs the clean tree twice: first every test, recording which functions of the files
    each one calls; then again the tests that passed and called one (no other test is ever
    selected for a mutant: a test of a C accelerator, say). Candidates are the tests that
    call a function and pass both times, each within max_test_ms."""
    first = codebox.run_tests(files, base, drop, test_modules, timeout=timeout, coverage=True)
    calling = sorted(t for t in first["outcomes"] if codebox.passed(first, t) and first["coverage"].get(t))
    second = codebox.run_tests(files, base, drop, test_modules, only=calling, timeout=timeout)
    both = [t for t in calling if codebox.passed(second, t)]
    ok = sorted(t for t in both if second["times"].get(t, 1e9) <= max_test_ms)
    flaky = sorted(set(calling) - set(both))
    return {"passing": ok, "flaky": flaky, "wall_ms": [first["wall_ms"], second["wall_ms"]],
            "times": {t: second["times"].get(t, 0) for t in ok},
            "coverage": {t: first["coverage"].get(t, []) for t in ok},
            "defs": {t: first["defs"].get(t, "") for t in ok},
            "load_errors": first["load_errors"], "timed_out": first["timed_out"] or second["timed_out"],
            "slow": len(both) - len(ok)}


def covering(base_info, functions_hit):
    """The candidate tests that call any of functions_hit ("file:qualname")."""
    want = set(functions_hit)
    return [t for t in base_info["passing"] if want & set(base_info["coverage"].get(t, []))]


def run_timeout(base_info, tests):
    """Wall seconds a selection run may take: only a backstop for a mutant that hangs
    without using CPU (one that loops is ended by run_cpu_limit first)."""
    return max(2.0, 10.0 * sum(base_info["times"].get(t, 0) for t in tests) / 1000.0 + 1.5)


def run_cpu_limit(base_info, tests):
    """CPU seconds a selection run may use: the imports (well under 0.2 s once the warm
    interpreter holds what the tests import), and three times what the tests took on the
    clean tree (their wall time then, at least their CPU time). CPU time, not
    wall time, so that a mutant is judged alike on an idle machine and on a busy one."""
    return 0.4 + 3.0 * sum(base_info["times"].get(t, 0) for t in tests) / 1000.0


def select(files, mutated, base, drop, test_modules, base_info, functions_hit, min_failures=1, known=(),
           reject_first=None):
    """Decides one mutant. The selected tests are the clean tree's candidates that call a
    mutated function; they run twice on the mutant. Kept only when at least one fails
    (fail-to-pass), every outcome repeats and every other selected test passes both
    times (pass-to-pass). A mutant whose first run already rules it out (fewer than
    min_failures failing tests, none beyond the `known` ones, or a reason the caller's
    reject_first(failing tests, in selection order) gives) is not run again: a second
    run either repeats the first (the same verdict) or differs (unstable)."""
    selected = covering(base_info, functions_hit)
    if not selected:
        return {"keep": False, "why": "no_covering_test", "runs_ms": []}
    if len(selected) < min_failures:  # it cannot fail enough tests
        return {"keep": False, "why": "one_failing_test", "runs_ms": []}
    tree = dict(files)
    tree.update(mutated)
    timeout = run_timeout(base_info, selected)
    cpu = run_cpu_limit(base_info, selected)
    runs = []
    for _ in range(2):
        r = codebox.run_tests(tree, base, drop, test_modules, only=selected, timeout=timeout, cpu_limit=cpu)
        runs.append(r)
        why = ("timeout" if r["timed_out"] else "crash" if r["crashed"] else
               "import_error" if r["load_errors"] else
               "incomplete" if any(t not in r["outcomes"] for t in selected) else "")
        if not why and len(runs) == 1:
            failing = [t for t in selected if not codebox.passed(r, t)]
            why = ("fails_nothing" if not failing else
                   "adds_no_failure" if set(failing) <= set(known) else
                   "one_failing_test" if len(failing) < min_failures else
                   reject_first(failing) if reject_first else "")
        if why:
            return {"keep": False, "why": why, "runs_ms": [x["wall_ms"] for x in runs]}
    f2p, p2p, unstable = [], [], []
    for t in selected:
        a, b = codebox.passed(runs[0], t), codebox.passed(runs[1], t)
        if a != b or runs[0]["outcomes"][t][0] != runs[1]["outcomes"][t][0]:
            unstable.append(t)
        elif a:
            p2p.append(t)
        else:
            f2p.append(t)
    out = {"runs_ms": [x["wall_ms"] for x in runs], "fail_to_pass": f2p, "pass_to_pass": p2p,
           "unstable": unstable}
    if unstable:
        out.update(keep=False, why="unstable")
    elif not f2p:
        out.update(keep=False, why="fails_nothing")
    else:
        out.update(keep=True, why="")
        out["failures"] = {t: runs[0]["outcomes"][t] for t in f2p[:8]}
    return out


def trace_calls(files, base, drop, test_modules, tests, targets, timeout=20.0):
    """Arguments and results of targets ([[file, qualname]]) while `tests` run on the
    clean tree: [[file, qualname, args_repr, result_repr]]."""
    r = codebox.run_tests(files, base, drop, test_modules, only=tests, timeout=timeout, trace=targets)
    return r.get("calls", [])

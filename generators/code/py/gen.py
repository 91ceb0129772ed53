# One code task, built in the sandbox: bugs injected into the chosen modules and kept
# by their tests, the workspace the agent gets (hidden tests taken out of its test
# files), the issue text, the reference diff and the wrong diffs that must earn 0.
import ast
import itertools
import os
import random
import re

import codebox
import mutate

# level -> (bugs, what the issue shows, files the bugs spread over)
LEVELS = {
    1: {"bugs": 1, "issue": "traceback", "files": 1},
    2: {"bugs": 1, "issue": "test_names", "files": 1},
    3: {"bugs": 1, "issue": "symptom", "files": 1, "prefer_far": True},
    4: {"bugs": 2, "issue": "symptom", "files": 1},
    5: {"bugs": 3, "issue": "symptom", "files": 2},
}


def read_sources(spec):
    files = {}
    for m in spec["modules"]:
        if spec.get("base_files"):
            files[m["source"]] = spec["base_files"][m["source"]]
        else:
            with open(os.path.join(spec["base"], m["source"]), encoding="utf-8") as f:
                files[m["source"]] = f.read()
    return files


def read_test_file(spec, m):
    if spec.get("base_files"):
        return spec["base_files"][m["test_file"]]
    with open(os.path.join(spec["base"], m["test_file"]), encoding="utf-8") as f:
        return f.read()


def baseline(spec):
    """{module source: baseline info} of the clean tree (the host caches it)."""
    base = codebox.base_root(spec.get("meta", {"base_in_box": spec["base"]}), spec.get("base_files") or {})
    files = read_sources(spec)
    out = {}
    for m in spec["modules"]:
        out[m["source"]] = mutate.baseline(files, base, m["drop"], [m["test_module"]])
    return out


def judge_mutant(spec, mutant, functions):
    """The selection verdict on one given mutant of the spec's single module."""
    m = spec["modules"][0]
    base = codebox.base_root(spec.get("meta", {"base_in_box": spec["base"]}), spec.get("base_files") or {})
    files = read_sources(spec)
    info = mutate.baseline(files, base, m["drop"], [m["test_module"]])
    out = mutate.select(files, {m["source"]: mutant}, base, m["drop"], [m["test_module"]], info, functions)
    out["baseline_passing"] = len(info["passing"])
    return out


def judge_rewrite(spec, function, reply):
    """A model's rewrite of one function of the spec's single module, judged like a mutant."""
    m = spec["modules"][0]
    c, why = mutate.rewrite_candidate(read_sources(spec)[m["source"]], function, reply)
    if c is None:
        return {"keep": False, "parsed": False, "why": why}
    out = judge_mutant(spec, c["source"], [m["source"] + ":" + function])
    out["parsed"] = True
    return out


def _mentions(test_src, test_def, qualname):
    """Whether the test method's own source names the mutated function."""
    name = qualname.split(".")[-1]
    body = _method_source(test_src, test_def)
    return body is not None and re.search(r"\b%s\b" % re.escape(name), body) is not None


_TREES = {}


def _parsed(src):
    """ast.parse(src), remembered (the least recently used of 16 trees goes first): the
    same test file is read for every candidate and task."""
    tree = _TREES.pop(src, None)
    if tree is None:
        tree = ast.parse(src)
        if len(_TREES) >= 16:
            del _TREES[next(iter(_TREES))]
    _TREES[src] = tree
    return tree


_METHODS = {}


def _method_source(src, qual):
    """The text of one method of a test file (remembered: it is asked for each candidate)."""
    key = (src, qual)
    if key not in _METHODS:
        if len(_METHODS) > 4096:
            _METHODS.clear()
        tree = _parsed(src)
        node = _find_def(tree, qual)
        if node is None:
            _METHODS[key] = None
        else:
            lines = src.splitlines(True)
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            _METHODS[key] = "".join(lines[start - 1:node.end_lineno])
    return _METHODS[key]


def _find_def(tree, qual):
    parts = qual.split(".")
    body = tree.body
    node = None
    for p in parts:
        node = next((n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.name == p), None)
        if node is None:
            return None
        body = node.body
    return node


def strip_methods(src, quals):
    """The test file without the methods named in quals (Class.method); a class left with
    no statement keeps a `pass`."""
    tree = _parsed(src)
    spans, gone, owners = [], set(), {}
    for q in set(quals):
        node = _find_def(tree, q)
        if node is not None:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append([start, node.end_lineno, node.col_offset, ""])
            gone.add(id(node))
            owner = _find_def(tree, q.rsplit(".", 1)[0]) if "." in q else None
            if owner is not None:
                owners.setdefault(id(owner), (owner, spans[-1]))
    for owner, span in owners.values():
        if all(id(n) in gone for n in owner.body):
            span[3] = " " * span[2] + "pass\n"
    lines = src.splitlines(True)
    for start, end, col, keep in sorted(spans, reverse=True):
        lines[start - 1:end] = [keep] if keep else []
    out = "".join(lines)
    try:
        _parsed(out)  # the workspace's test file is read again for the negatives
    except SyntaxError:
        return None
    return out


def _visible_path(m):
    return "tests/" + os.path.basename(m["test_file"])


def _visible_id(m, tid):
    mod = os.path.basename(m["test_file"])[:-3]
    return mod + tid[len(m["test_module"]):]


def make_task(spec):
    level = int(spec["level"])
    plan = LEVELS[level]
    rng = random.Random("%s/%d" % (spec["seed"], level))
    base = codebox.base_root(spec.get("meta", {"base_in_box": spec["base"]}), spec.get("base_files") or {})
    clean = read_sources(spec)
    infos = spec["baselines"]
    mods = {m["source"]: m for m in spec["modules"]}
    files_order = list(mods)
    rng.shuffle(files_order)
    bug_files = files_order[:plan["files"]]
    if len(bug_files) < plan["files"]:
        return {"ok": False, "why": "level %d needs %d modules" % (level, plan["files"])}
    current = dict(clean)
    bugs, stats = [], {"tried": 0, "rejected": {}, "runs_ms": []}
    budget = int(spec.get("max_mutants", 24))
    rewrites = _model_rewrites(spec, current, stats) if "llm_rewrites" in spec else []
    for i in range(plan["bugs"]):
        path = bug_files[i % len(bug_files)]
        m = mods[path]
        info = infos[path]
        used = {b["function"] for b in bugs if b["file"] == path}
        cands = (c for c in mutate.candidates(current[path], rng.random(), limit=60) if c["function"] not in used)
        if i == 0 and rewrites:  # the model's rewrites go first, through the same checks
            cands = itertools.chain([c for c in rewrites if c["file"] == path], cands)
        if plan.get("prefer_far"):
            cands = _constants_last(cands)
        chosen = None
        for c in cands:
            if stats["tried"] >= budget:
                break
            stats["tried"] += 1
            hit = [path + ":" + b["function"] for b in bugs if b["file"] == path] + [path + ":" + c["function"]]
            prev = {t for b in bugs if b["file"] == path for t in b["fail_to_pass"]}
            test_src = read_test_file(spec, m)
            is_far = lambda failing: not any(_mentions(test_src, info["defs"].get(t, ""), c["function"])
                                             for t in failing[:3])
            # what the covering tests alone already rule out needs no run
            want_far = plan.get("prefer_far") and stats["tried"] < budget // 2
            covering = mutate.covering(info, hit)
            if not covering:
                stats["rejected"]["no_covering_test"] = stats["rejected"].get("no_covering_test", 0) + 1
                continue
            if len(_method_names(info, covering)) < 2:
                stats["rejected"]["one_failing_name"] = stats["rejected"].get("one_failing_name", 0) + 1
                continue
            if want_far and _surely_near(test_src, info, covering, c["function"]):
                stats["rejected"]["near"] = stats["rejected"].get("near", 0) + 1
                continue

            def reject_first(failing):
                if len(_method_names(info, failing)) < 2:
                    return "one_failing_name"
                return "near" if want_far and not is_far(failing) else ""
            if c["source"] is None:  # the mutant does not compile or changes nothing
                stats["rejected"]["no_change"] = stats["rejected"].get("no_change", 0) + 1
                continue
            r = mutate.select(current, {path: c["source"]}, base, m["drop"], [m["test_module"]], info, hit,
                              min_failures=2, known=prev, reject_first=reject_first)
            stats["runs_ms"] += r["runs_ms"]
            if not r["keep"]:
                stats["rejected"][r["why"]] = stats["rejected"].get(r["why"], 0) + 1
                continue
            if set(r["fail_to_pass"]) <= prev:
                stats["rejected"]["adds_no_failure"] = stats["rejected"].get("adds_no_failure", 0) + 1
                continue
            if len(r["fail_to_pass"]) < 2:
                stats["rejected"]["one_failing_test"] = stats["rejected"].get("one_failing_test", 0) + 1
                continue
            if len(_method_names(info, r["fail_to_pass"])) < 2:
                stats["rejected"]["one_failing_name"] = stats["rejected"].get("one_failing_name", 0) + 1
                continue
            far = is_far(r["fail_to_pass"])
            if want_far and not far:
                stats["rejected"]["near"] = stats["rejected"].get("near", 0) + 1
                continue
            if c["kind"] == "llm_rewrite":
                stats["llm"]["chosen"] = True
            chosen = {"file": path, "function": c["function"], "kind": c["kind"], "line": c["line"],
                      "fail_to_pass": r["fail_to_pass"], "pass_to_pass": r["pass_to_pass"],
                      "failures": r["failures"], "far": far}
            current = dict(current)
            current[path] = c["source"]
            break
        if chosen is None:
            return {"ok": False, "why": "no usable mutant after %d tries" % stats["tried"], "stats": stats}
        bugs.append(chosen)
    # the last selection of each file holds its cumulative fail/pass sets
    by_file = {}
    for b in bugs:
        by_file[b["file"]] = b
    f2p = sorted({t for b in by_file.values() for t in b["fail_to_pass"]})
    p2p = sorted({t for b in by_file.values() for t in b["pass_to_pass"]} - set(f2p))
    return _assemble(spec, level, plan, rng, clean, current, bugs, f2p, p2p, base, stats)


def llm_targets(spec, count=3):
    """Functions of the first bug file a model may rewrite with a subtle bug: covered by at
    least two tests that pass on the clean tree, at most 60 lines; a seeded choice."""
    level = int(spec["level"])
    rng = random.Random("%s/%d" % (spec["seed"], level))
    files_order = [m["source"] for m in spec["modules"]]
    rng.shuffle(files_order)  # as make_task does: its first bug file
    path = files_order[0]
    src = read_sources(spec)[path]
    cover = {}
    for hits in spec["baselines"][path]["coverage"].values():
        for h in hits:
            cover[h] = cover.get(h, 0) + 1
    out = []
    for qual, node in mutate.functions(ast.parse(src)):
        if node.name.startswith("__") or cover.get(path + ":" + qual, 0) < 2:
            continue
        text = mutate.function_source(src, qual)
        if text and text.count("\n") <= 60:
            out.append({"file": path, "function": qual, "source": text})
    random.Random("%s/%d/llm" % (spec["seed"], level)).shuffle(out)
    return out[:count]


def _model_rewrites(spec, clean, stats):
    """The model's replies ({file, function, reply | error}) as candidates; the refused
    ones are counted by reason in stats["llm"]."""
    llm = stats.setdefault("llm", {"asked": 0, "candidates": 0, "rejected": {}, "chosen": False})
    out = []
    for r in spec["llm_rewrites"]:
        llm["asked"] += 1
        why = ""
        if r.get("error"):
            why = "the generator model failed"
        elif r.get("file") not in clean:
            why = "no such file"
        else:
            c, why = mutate.rewrite_candidate(clean[r["file"]], r.get("function", ""), r.get("reply"))
        if why:
            llm["rejected"][why] = llm["rejected"].get(why, 0) + 1
            continue
        c["file"] = r["file"]
        llm["candidates"] += 1
        out.append(c)
    return out


def _method_names(info, tests):
    """The method names of tests (a task shows some failing tests and hides others, and no
    hidden one may share its name with a shown one: a bug must fail two names at least)."""
    return {info["defs"].get(t, "").split(".")[-1] for t in tests} - {""}


def _surely_near(test_src, info, selected, function):
    """Whether a mutant of `function` is near its tests whatever its runs show: a kept
    mutant fails at least two of the selected tests, and it is far only when none of the
    first (up to three) failing ones names the function, so with fewer than two selected
    tests that do not name it, it cannot be far."""
    if not selected:
        return False  # no covering test: the selection says so
    quiet = 0
    for t in selected:
        if not _mentions(test_src, info["defs"].get(t, ""), function):
            quiet += 1
            if quiet >= 2:
                return False
    return True


def _constants_last(cands):
    """The candidates in their order, changed constants after every other kind (a constant
    is often named by the test that checks it, so the bug would sit near its test)."""
    later = []
    for c in cands:
        if c["kind"] == "change_constant":
            later.append(c)
        else:
            yield c
    yield from later


def _assemble(spec, level, plan, rng, clean, buggy, bugs, f2p, p2p, base, stats):
    mods = {m["source"]: m for m in spec["modules"]}
    infos = spec["baselines"]
    by_module = {}
    for t in f2p + p2p:
        for m in spec["modules"]:
            if t.startswith(m["test_module"] + "."):
                by_module.setdefault(m["source"], []).append(t)
    defs = {}
    for path, info in infos.items():
        defs.update(info["defs"])
    # hide half of the failing tests' methods (at least one) and a third of the rest. The
    # failing methods are split by name: a hidden failing test never shares its method's
    # name with a shown one, so a fix that recognises the shown tests by name (on the call
    # stack, say) cannot pass the hidden ones too.
    f2p_defs = sorted({defs.get(t, "") for t in f2p} - {""})
    f2p_names = sorted({d.split(".")[-1] for d in f2p_defs})
    rng.shuffle(f2p_names)
    hidden_names = set(f2p_names[:max(1, len(f2p_names) // 2)]) if len(f2p_names) >= 2 else set()
    hidden_f2p = {d for d in f2p_defs if d.split(".")[-1] in hidden_names}
    shown = [t for t in f2p if defs.get(t) not in hidden_f2p]
    if not hidden_f2p or not shown:
        return {"ok": False, "why": "the failing tests cannot be split into shown and hidden ones", "stats": stats}
    p2p_defs = sorted({defs.get(t, "") for t in p2p} - {""} - set(f2p_defs))
    rng.shuffle(p2p_defs)
    hidden = hidden_f2p | set(p2p_defs[:len(p2p_defs) // 3])
    workspace, visible_tests = {}, []
    for m in spec["modules"]:
        workspace[m["source"]] = (buggy[m["source"]], "source")
        src = read_test_file(spec, m)
        stripped = strip_methods(src, [q for q in hidden])
        if stripped is None:
            return {"ok": False, "why": "hiding tests broke %s" % m["test_file"], "stats": stats}
        workspace[_visible_path(m)] = (stripped, "test")
        visible_tests.append(os.path.basename(m["test_file"])[:-3])
    first = shown[0]
    m_first = next(m for m in spec["modules"] if first.startswith(m["test_module"] + "."))
    failure = next((b["failures"][first] for b in bugs if first in b["failures"]), ["fail", ""])
    issue, facts = _issue(plan, level, spec, bugs, shown, failure, m_first)
    reference = codebox.make_diff({p: buggy[p] for p in clean}, clean)
    facts["forbidden"] = _withheld(plan, reference, f2p + p2p, shown, defs, m_first, spec)
    negatives = _negatives(spec, level, clean, buggy, bugs, workspace, shown, first, defs, m_first, base)
    return {"ok": True, "level": level, "bugs": bugs, "fail_to_pass": f2p, "pass_to_pass": p2p,
            "hidden": sorted(hidden), "shown_failing": [_visible_id(m_first, t) for t in shown
                                                        if t.startswith(m_first["test_module"] + ".")],
            "workspace": {p: {"content": t, "role": r} for p, (t, r) in workspace.items()},
            "visible_test_modules": visible_tests, "issue": issue, "issue_facts": facts, "reference": reference,
            "negatives": negatives, "stats": stats}


def _last_line(trace):
    """The exception line of a traceback (what went wrong, not where)."""
    lines = trace.strip().splitlines()
    last_file = max([i for i, l in enumerate(lines) if l.startswith('  File "')] or [-1])
    for l in lines[last_file + 1:]:
        if l and not l[0].isspace():
            return l.strip()[:240]
    return "a wrong result"


def _clean_trace(trace, m, overlay_hint="/tmp/efrun-"):
    """Paths in a traceback as the workspace names them."""
    trace = re.sub(r'"/tmp/efrun-[^/"]*/', '"', trace)
    trace = re.sub(r'"[^"]*/%s"' % re.escape(m["test_file"]), '"%s"' % _visible_path(m), trace)
    return trace.replace(m["test_module"] + ".", os.path.basename(m["test_file"])[:-3] + ".")


def _issue(plan, level, spec, bugs, shown, failure, m_first):
    names = ", ".join("`%s`" % os.path.splitext(m["source"])[0].replace("/", ".") for m in spec["modules"])
    vis = _visible_id(m_first, shown[0])
    head = "The repository holds the module(s) %s and their tests under `tests/`." % names
    tail = ("Fix the source so that the behaviour is correct again; do not change the tests (they "
            "are restored before grading, and more tests than the ones you can see are run). "
            "Answer with the unified diff of your change (the `show_diff` tool prints it).")
    if plan["issue"] == "traceback":
        trace = _clean_trace(failure[1], m_first)
        body = "The test `%s` fails:\n\n```\n%s\n```" % (vis, trace.strip()[-1500:])
    elif plan["issue"] == "test_names":
        shown_ids = [_visible_id(m_first, t) for t in shown if t.startswith(m_first["test_module"] + ".")][:4]
        body = "These tests fail: %s. The failure reads `%s`." % (
            ", ".join("`%s`" % t for t in shown_ids), _last_line(failure[1]))
    else:
        many = " There is more than one bug, possibly in different functions or files." if plan["bugs"] > 1 else ""
        body = ("Since a recent change, some results of %s are wrong: a check that used to pass now "
                "reports `%s`.%s" % (names, _last_line(failure[1]), many))
    facts = {"mode": plan["issue"], "level": level, "modules": names, "symptom": _last_line(failure[1]),
             "several_bugs": plan["bugs"] > 1, "head": head, "tail": tail,
             "trace": _clean_trace(failure[1], m_first).strip()[-1500:] if plan["issue"] == "traceback" else "",
             "failing_tests": [vis] if plan["issue"] == "traceback" else
             shown_ids if plan["issue"] == "test_names" else []}
    return head + "\n\n" + body + "\n\n" + tail, facts


def _withheld(plan, reference, tests, shown, defs, m_first, spec):
    """What a written issue must not contain at this level: the fix (the lines the reference
    diff adds) always; where the issue only describes the symptom, also the buggy lines and
    every test's name, id and method."""
    out = {"code": [], "tests": []}
    signs = "+" if plan["issue"] != "symptom" else "+-"
    for l in reference.splitlines():
        if l[:1] in signs and not l.startswith(("+++", "---")) and len(l[1:].strip()) >= 8:
            out["code"].append(l[1:].strip())
    if plan["issue"] == "symptom":
        names = set()
        for t in tests:
            names.add(t)
            names.add(t.split(".")[-1])
            if defs.get(t):
                names.add(defs[t])
            for m in spec["modules"]:
                if t.startswith(m["test_module"] + "."):
                    names.add(_visible_id(m, t))
        out["tests"] = sorted(names)
    out["code"] = sorted(set(out["code"]))
    return out


# ---------------------------------------------------------------- wrong answers

def _negatives(spec, level, clean, buggy, bugs, workspace, shown, first, defs, m_first, base):
    out = []
    src_path = bugs[0]["file"]
    test_path = _visible_path(m_first)
    test_src = workspace[test_path][0]
    out.append({"kind": "empty_diff", "answer": ""})
    noop = dict(buggy)
    noop[src_path] = "# reviewed\n" + buggy[src_path]
    out.append({"kind": "unpatched", "answer": codebox.make_diff({src_path: buggy[src_path]}, {src_path: noop[src_path]})})
    qual = defs.get(first, "")
    deleted = strip_methods(test_src, [qual])
    if deleted is not None and deleted != test_src:
        out.append({"kind": "delete_failing_test", "answer": codebox.make_diff({test_path: test_src}, {test_path: deleted})})
    edited = _neuter_tests(test_src, {defs.get(t, "") for t in shown})
    if edited and edited != test_src:
        out.append({"kind": "edit_tests", "answer": codebox.make_diff({test_path: test_src}, {test_path: edited})})
    cheat = _special_case_tests(clean, buggy, bugs, [defs.get(t, "") for t in shown])
    if cheat is not None:
        out.append({"kind": "special_case_tests", "answer": codebox.make_diff(
            {p: buggy[p] for p in cheat}, cheat)})
    cheat = _special_case(spec, clean, buggy, bugs, shown, m_first, base)
    if cheat is not None:
        out.append({"kind": "special_case_inputs", "answer": codebox.make_diff(
            {p: buggy[p] for p in cheat}, cheat)})
    out.append({"kind": "not_a_diff", "answer": "I fixed the bug in %s." % src_path})
    out.append({"kind": "new_test_package", "answer": codebox.make_diff(
        {}, {"test/__init__.py": "", "test/%s" % os.path.basename(m_first["test_file"]): "pass\n"})})
    if len(bugs) > 1:  # fixing one bug of several is not enough
        partial = dict(buggy)
        b0 = bugs[0]
        partial[b0["file"]] = _revert_function(buggy[b0["file"]], clean[b0["file"]], b0["function"])
        if partial[b0["file"]] is not None and partial != clean:
            out.append({"kind": "partial_fix", "answer": codebox.make_diff(
                {b0["file"]: buggy[b0["file"]]}, {b0["file"]: partial[b0["file"]]})})
    return out


def _neuter_tests(src, quals):
    """Every named test method returns before its checks."""
    tree = _parsed(src)
    lines = src.splitlines(True)
    inserts = []
    for q in quals:
        node = _find_def(tree, q) if q else None
        if node is None:
            continue
        first = node.body[0]
        inserts.append((first.lineno, first.col_offset))
    for line, col in sorted(inserts, reverse=True):
        lines.insert(line - 1, " " * col + "return\n")
    return "".join(lines)


def _revert_function(buggy_src, clean_src, qual):
    """buggy_src with one function's text taken from clean_src."""
    b, c = _find_def(ast.parse(buggy_src), qual), _find_def(ast.parse(clean_src), qual)
    if b is None or c is None:
        return None
    bl, cl = buggy_src.splitlines(True), clean_src.splitlines(True)
    bl[b.lineno - 1:b.end_lineno] = cl[c.lineno - 1:c.end_lineno]
    return "".join(bl)


def _special_case(spec, clean, buggy, bugs, shown, m_first, base):
    """The mutated functions answer the shown failing tests' exact inputs from a table
    recorded on the clean code, and stay wrong for every other input."""
    targets = [[b["file"], b["function"]] for b in bugs]
    calls = mutate.trace_calls(dict(clean), base, m_first["drop"], [m_first["test_module"]], shown, targets)
    table = {}
    for f, q, a, r in calls:
        table.setdefault((f, q), {})[a] = r
    out = {}
    for (f, q), cases in table.items():
        src = out.get(f, buggy[f])
        node = _find_def(ast.parse(src), q)
        if node is None or not node.body:
            continue
        a = node.args
        names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
        if names and names[0] in ("self", "cls"):
            continue
        body0 = node.body[0]
        doc = isinstance(body0, ast.Expr) and isinstance(getattr(body0, "value", None), ast.Constant) \
            and isinstance(body0.value.value, str)
        at = node.body[1] if doc and len(node.body) > 1 else body0
        ind = " " * at.col_offset
        key = "repr((%s,))" % ", ".join(names) if names else "'()'"
        items = ", ".join("%r: %s" % (k, v) for k, v in list(cases.items())[:100])
        text = "%s_ef_cases = {%s}\n%sif %s in _ef_cases:\n%s    return _ef_cases[%s]\n" % (
            ind, items, ind, key, ind, key)
        lines = src.splitlines(True)
        lines.insert(at.lineno - 1, text)
        new = "".join(lines)
        try:
            compile(new, f, "exec")
        except SyntaxError:
            continue
        out[f] = new
    return out or None


def _special_case_tests(clean, buggy, bugs, test_quals):
    """The mutated functions behave like the clean ones only when called from the shown
    failing tests (found on the call stack), and stay wrong everywhere else."""
    names = sorted({q.split(".")[-1] for q in test_quals if q})
    if not names:
        return None
    out = {}
    for b in bugs:
        f, q = b["file"], b["function"]
        src = out.get(f, buggy[f])
        node = _find_def(ast.parse(src), q)
        cnode = _find_def(ast.parse(clean[f]), q)
        if node is None or cnode is None or (node.decorator_list and "." in q):
            continue
        a = node.args
        call = [x.arg for x in a.posonlyargs + a.args]
        call += ["*" + a.vararg.arg] if a.vararg else []
        call += ["%s=%s" % (x.arg, x.arg) for x in a.kwonlyargs]
        call += ["**" + a.kwarg.arg] if a.kwarg else []
        clean_lines = clean[f].splitlines(True)[cnode.lineno - 1:cnode.end_lineno]
        helper = "".join(clean_lines).replace("def %s(" % cnode.name, "def _ef_clean_%s(" % cnode.name, 1)
        at = node.body[0]
        ind = " " * at.col_offset
        owner = "%s._ef_clean_%s" % (call[0], node.name) if call and call[0] in ("self", "cls") else \
            "_ef_clean_%s" % node.name
        args = ", ".join(call[1:] if owner.startswith(("self.", "cls.")) else call)
        guard = ("%simport sys as _ef_sys\n%s_ef_f = _ef_sys._getframe(1)\n%swhile _ef_f is not None:\n"
                 "%s    if _ef_f.f_code.co_name in %r:\n%s        return %s(%s)\n%s    _ef_f = _ef_f.f_back\n"
                 % (ind, ind, ind, ind, tuple(names), ind, owner, args, ind))
        lines = src.splitlines(True)
        lines.insert(at.lineno - 1, guard)
        lines.insert(node.lineno - 1, helper)
        new = "".join(lines)
        try:
            compile(new, f, "exec")
        except SyntaxError:
            continue
        out[f] = new
    return out or None

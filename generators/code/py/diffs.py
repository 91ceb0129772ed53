# envforge code environments: unified diffs (made, parsed, applied to a workspace's files).
# Joined after codebox.py into one module, whose safe_rel keeps every path in the workspace.
import difflib
import re


def make_diff(old_files, new_files):
    """A unified diff (a/ b/ prefixes) from {path: text} to {path: text}."""
    out = []
    for path in sorted(set(old_files) | set(new_files)):
        a, b = old_files.get(path), new_files.get(path)
        if a == b:
            continue
        out.extend(difflib.unified_diff(
            (a or "").splitlines(True), (b or "").splitlines(True),
            "a/" + path if a is not None else "/dev/null",
            "b/" + path if b is not None else "/dev/null", n=3))
    text = "".join(l if l.endswith("\n") else l + "\n\\ No newline at end of file\n" for l in out)
    return text


class PatchError(Exception):
    pass


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_diff(text):
    """[(old_path|None, new_path|None, [hunk...])]; a hunk is (old_start, [(tag, line)])."""
    if not isinstance(text, str):
        raise PatchError("the answer must be a unified diff as a string, got %s" % type(text).__name__)
    lines = text.splitlines(True)
    files, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("--- "):
            i += 1
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("+++ "):
            raise PatchError("line %d: '---' without a '+++' line" % (i + 1))
        old, new = _diff_path(line[4:]), _diff_path(lines[i + 1][4:])
        i += 2
        hunks = []
        while i < len(lines) and lines[i].startswith("@@"):
            m = _HUNK.match(lines[i])
            if not m:
                raise PatchError("line %d: malformed hunk header %r" % (i + 1, lines[i][:80]))
            old_len = int(m.group(2)) if m.group(2) is not None else 1
            new_len = int(m.group(4)) if m.group(4) is not None else 1
            i += 1
            body, seen_old, seen_new = [], 0, 0
            while i < len(lines) and (seen_old < old_len or seen_new < new_len):
                l = lines[i]
                tag = l[:1]
                if l.startswith("\\"):
                    i += 1
                    continue
                if tag == "\n" or l == "":
                    tag, l = " ", " \n"
                if tag not in " +-":
                    raise PatchError("line %d: hunk ends early (%d of %d old lines)" % (i + 1, seen_old, old_len))
                body.append((tag, l[1:]))
                seen_old += tag in " -"
                seen_new += tag in " +"
                i += 1
            if seen_old != old_len or seen_new != new_len:
                raise PatchError("hunk at line %d: counts do not match its header" % i)
            if i < len(lines) and lines[i].startswith("\\"):
                if body and body[-1][1].endswith("\n"):
                    body[-1] = (body[-1][0], body[-1][1][:-1])
                i += 1
            hunks.append((int(m.group(1)), body))
        files.append((old, new, hunks))
    if not files and text.strip():
        raise PatchError("no '--- a/PATH' / '+++ b/PATH' file header in the diff")
    return files


def _diff_path(field):
    p = field.rstrip("\n").split("\t")[0].strip()
    if p == "/dev/null":
        return None
    if p.startswith(("a/", "b/")):
        p = p[2:]
    rel = safe_rel(p)
    if rel is None:
        raise PatchError("path %r leaves the workspace" % p)
    return rel


def apply_diff(files, text):
    """New {path: text} after applying `text` to `files`; hunks must match exactly (a
    little drift in line numbers is allowed). Raises PatchError naming the file."""
    out = dict(files)
    for old, new, hunks in parse_diff(text):
        path = new or old
        if old is None:
            if path in out:
                raise PatchError("%s: created by the diff but it already exists" % path)
            src = []
        else:
            if old not in out:
                raise PatchError("%s: no such file in the workspace" % old)
            src = out[old].splitlines(True)
        result, pos = [], 0
        for start, body in hunks:
            want = [l for t, l in body if t in " -"]
            at = _find(src, want, max(start - 1, 0), pos)
            if at is None:
                raise PatchError("%s: hunk @@ -%d does not match the file" % (path, start))
            result.extend(src[pos:at])
            result.extend(l for t, l in body if t in " +")
            pos = at + len(want)
        result.extend(src[pos:])
        if new is None:
            out.pop(old, None)
        else:
            if old is not None and old != new:
                out.pop(old, None)
            out[new] = "".join(result)
    return out


def _find(src, want, hint, lo):
    n = len(want)
    for delta in range(0, len(src) + 1):
        for at in (hint - delta, hint + delta):
            if lo <= at <= len(src) - n and src[at:at + n] == want:
                return at
        if hint - delta < lo and hint + delta > len(src) - n:
            break
    return None

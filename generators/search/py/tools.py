"""Tools of a search environment: a document collection in the SQLite database at
$ENVFORGE_WORLD_DB (default /world/world.db), indexed with FTS5.

search(query, k) ranks documents by BM25; open(doc_id, offset) reads a window of a document;
find(doc_id, pattern) lists its matching lines. Bad arguments give {"error": "..."} naming
the argument, never a traceback. The OpenAI function schemas are in SCHEMAS.
"""
import json
import os
import re
import sqlite3

SCHEMAS = json.loads(r'''@TOOL_SCHEMAS@''')
_SPECS = {s["function"]["name"]: s["function"]["parameters"] for s in SCHEMAS}
WINDOW = 1500          # characters open() returns at a time
MAX_LINES = 20         # lines find() returns at most
MAX_QUERY = 500        # characters of a query
_WORD = re.compile(r"\w+", re.UNICODE)
_con = {}


def schemas():
    return SCHEMAS


class _BadArgument(Exception):
    pass


def _db():
    path = os.environ.get("ENVFORGE_WORLD_DB", "/world/world.db")
    if path not in _con:
        if not os.path.exists(path):
            raise _BadArgument("the document collection is not available")
        _con[path] = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    return _con[path]


def _check(name, kwargs):
    props = _SPECS[name]["properties"]
    for k in kwargs:
        if k not in props:
            raise _BadArgument("unknown argument '%s' (allowed: %s)" % (k, ", ".join(sorted(props))))
    for k in _SPECS[name]["required"]:
        if kwargs.get(k) is None:
            raise _BadArgument("missing required argument '%s'" % k)
    for k, v in kwargs.items():
        if v is None:
            continue
        t = props[k]["type"]
        if t == "string" and not isinstance(v, str):
            raise _BadArgument("argument '%s' must be a string" % k)
        if t == "integer" and (not isinstance(v, int) or isinstance(v, bool)):
            raise _BadArgument("argument '%s' must be an integer" % k)


def _tool(fn):
    name = fn.__name__.rstrip("_")

    def wrapper(**kwargs):
        try:
            _check(name, kwargs)
            return fn(**kwargs)
        except _BadArgument as e:
            return {"error": str(e)}
    wrapper.__name__ = name
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _document(doc_id):
    row = _db().execute("SELECT rowid, id, title, text FROM documents WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        raise _BadArgument("no document '%s' (ids come from search)" % doc_id[:100])
    return row


@_tool
def search(query, k=None):
    """Documents best matching the words of `query`, best first."""
    k = 5 if k is None else k
    if k < 1 or k > 50:
        raise _BadArgument("argument 'k' must be 1..50")
    words = _WORD.findall(query[:MAX_QUERY].lower())
    if not words:
        raise _BadArgument("argument 'query' has no words to search for")
    match = " OR ".join('"%s"' % w for w in dict.fromkeys(words))
    rows = _db().execute(
        "SELECT d.id, d.title, snippet(documents_fts, 1, '[', ']', '...', 16) "
        "FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid "
        "WHERE documents_fts MATCH ? ORDER BY bm25(documents_fts, 5.0, 1.0), d.id LIMIT ?",
        (match, k)).fetchall()
    return {"query": query[:MAX_QUERY], "hits": [{"id": r[0], "title": r[1], "snippet": r[2]} for r in rows]}


@_tool
def open_(doc_id, offset=None):
    """A window of a document's text from `offset`."""
    offset = 0 if offset is None else offset
    row = _document(doc_id)
    text = row[3]
    if offset < 0 or offset > len(text):
        raise _BadArgument("argument 'offset' must be 0..%d" % len(text))
    end = min(len(text), offset + WINDOW)
    return {"id": row[1], "title": row[2], "offset": offset, "text": text[offset:end],
            "next_offset": end if end < len(text) else None, "length": len(text)}


open = open_  # the tool's name; the module never needs the builtin


@_tool
def find(doc_id, pattern):
    """Lines of a document matching `pattern` (case-insensitive)."""
    if not pattern.strip():
        raise _BadArgument("argument 'pattern' is empty")
    if len(pattern) > 300:
        raise _BadArgument("argument 'pattern' is longer than 300 characters")
    try:
        rx = re.compile(pattern, re.IGNORECASE)
    except re.error:
        rx = re.compile(re.escape(pattern), re.IGNORECASE)
    row = _document(doc_id)
    lines = []
    for n, line in enumerate(row[3].split("\n"), 1):
        if rx.search(line):
            lines.append({"line": n, "text": line})
            if len(lines) == MAX_LINES:
                break
    return {"id": row[1], "pattern": pattern, "lines": lines}

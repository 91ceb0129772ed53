"""Validation-only checks of a search environment (never given to a solver): that each fact of
a task's proof is stated in its document and that the document can be reached, both through
the environment's own tools."""
import re

import tools


def reach(facts, k=10):
    """For each {"doc", "evidence", "title"}: stated (find() returns a line holding the evidence)
    and rank (1-based position of the document in search() by the evidence's words or by its
    title, whichever is better; 0: not in the first k)."""
    out = []
    for f in facts:
        found = tools.find(doc_id=f["doc"], pattern=re.escape(f["evidence"][:100]))
        lines = found.get("lines", []) if isinstance(found, dict) else []
        stated = any(f["evidence"] in line["text"] for line in lines)
        ranks = []
        for query in (f["evidence"], f.get("title", "")):
            if not query.strip():
                continue
            hits = tools.search(query=query, k=k)
            ids = [h["id"] for h in hits.get("hits", [])] if isinstance(hits, dict) else []
            if f["doc"] in ids:
                ranks.append(ids.index(f["doc"]) + 1)
        out.append({"stated": stated, "rank": min(ranks) if ranks else 0,
                    "error": found.get("error", "") if isinstance(found, dict) else "bad find result"})
    return out

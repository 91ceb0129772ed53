"""Verifier of trip-planning answers: checks a submitted answer against the
world database and every constraint of the task.

verify(answer, world, task) -> {"pass": bool, "score": float, "reason": str,
"constraint": str}. `answer` is the model's answer: a JSON string or an already
parsed value. `reason` starts with the first violated constraint ("budget: ...").
The checks, and their order, are those of the C++ checker (checker.cc).
"""
import datetime
import json
import os
import sqlite3

MEAL_MIN = 60
DAY_START = 9 * 60
TRANSFER = 30
LUNCH = (11 * 60, 13 * 60 + 30)
DINNER = (17 * 60 + 30, 20 * 60 + 30)
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

_cache = {}


def _hhmm(text):
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return None
    if not (text[:2].isdigit() and text[3:].isdigit()) or not text.isascii():
        return None
    h, m = int(text[:2]), int(text[3:])
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def _world(path):
    """Loads the whole world once per process (a warm session reuses it)."""
    key = (path, os.stat(path).st_mtime_ns)
    if key in _cache:
        return _cache[key]
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    con.row_factory = sqlite3.Row
    w = {"att": {}, "hotel": {}, "rest": {}, "tr": {}}
    for r in con.execute("SELECT * FROM attractions"):
        w["att"][r["id"]] = dict(r)
    for r in con.execute("SELECT * FROM hotels"):
        w["hotel"][r["id"]] = dict(r)
    for r in con.execute("SELECT * FROM restaurants"):
        w["rest"][r["id"]] = dict(r)
    for r in con.execute("SELECT * FROM transport"):
        w["tr"][r["id"]] = dict(r)
    con.close()
    for table in ("att", "rest"):
        for p in w[table].values():
            p["open_min"] = _hhmm(p["open"])
            p["close_min"] = _hhmm(p["close"])
            p["closed"] = set(filter(None, p["closed_days"].split(",")))
    for p in w["rest"].values():
        p["diet_set"] = set(filter(None, p["diets"].split(",")))
    for p in w["hotel"].values():
        p["amenity_set"] = set(filter(None, p["amenities"].split(",")))
    for t in w["tr"].values():
        t["arrive_min"] = _hhmm(t["arrive"])
    _cache.clear()
    _cache[key] = w
    return w


def _travel(a, b):
    return 10 + (abs(a["x"] - b["x"]) + abs(a["y"] - b["y"])) // 4


class Violation(Exception):
    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _is_str(o, k):
    return k in o and isinstance(o[k], str)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_whole(v):
    """A whole number: 436, or 436.0 as JSON Schema's "integer" allows (the prompt says so)."""
    return _is_int(v) or (isinstance(v, float) and v.is_integer())


def _check_lookup(w, task, a):
    if not isinstance(a, dict) or not _is_str(a, "hotel_id"):
        raise Violation("format", 'answer must be {"hotel_id": string}')
    h = w["hotel"].get(a["hotel_id"])
    if h is None:
        raise Violation("unknown_item", "no hotel %s" % a["hotel_id"])
    if h["city_id"] != task["city"]:
        raise Violation("wrong_city", "%s is not in %s" % (h["id"], task["city"]))
    if h["price"] > task["max_price"]:
        raise Violation("price", "%s costs more than the limit" % h["id"])
    if task["amenity"] not in h["amenity_set"]:
        raise Violation("amenity", "%s lacks %s" % (h["id"], task["amenity"]))
    best = None
    for c in w["hotel"].values():
        if c["city_id"] != task["city"] or c["price"] > task["max_price"]:
            continue
        if task["amenity"] not in c["amenity_set"]:
            continue
        if best is None or (c["rating"], -c["price"]) > (best["rating"], -best["price"]):
            best = c
    if best is None or best["id"] != h["id"]:
        raise Violation("not_best", "%s is not the best-rated qualifying hotel" % h["id"])
    return []


def _check_format(p):
    if not isinstance(p, dict) or not isinstance(p.get("days"), list):
        raise Violation("format", "plan must be an object with a list 'days'")
    if "total_cost" not in p or not _is_whole(p["total_cost"]):
        raise Violation("format", "plan must have an integer 'total_cost'")
    for d in p["days"]:
        if (not isinstance(d, dict) or not _is_str(d, "date") or not _is_str(d, "city")
                or not _is_str(d, "hotel") or "transport" not in d
                or not (d["transport"] is None or isinstance(d["transport"], str))
                or not isinstance(d.get("activities"), list)):
            raise Violation("format", "each day needs date, city, hotel, transport (string or null), activities")
        for a in d["activities"]:
            if not isinstance(a, dict) or not all(_is_str(a, k) for k in ("kind", "id", "start")):
                raise Violation("format", "each activity needs kind, id, start")
            if a["kind"] not in ("attraction", "lunch", "dinner"):
                raise Violation("format", "activity kind must be attraction, lunch or dinner")
            if _hhmm(a["start"]) is None:
                raise Violation("format", "start must be HH:MM")


def _check_plan(w, task, p):
    """Raises the first violation; returns the list of later (soft) violations."""
    _check_format(p)
    days, spec = p["days"], task["days"]
    if len(days) != len(spec):
        raise Violation("day_count", "plan has %d days, expected %d" % (len(days), len(spec)))
    for i, d in enumerate(days):
        if d["date"] != spec[i]["date"]:
            raise Violation("dates", "day %d must be %s" % (i + 1, spec[i]["date"]))
    for i, d in enumerate(days):
        if d["city"] != spec[i]["city"]:
            raise Violation("wrong_city", "day %d must be in %s" % (i + 1, spec[i]["city"]))
    acts = [[(a["kind"], a["id"], _hhmm(a["start"])) for a in d["activities"]] for d in days]

    def place(kind, pid):
        return w["att"].get(pid) if kind == "attraction" else w["rest"].get(pid)

    def duration(kind, pid):
        return w["att"][pid]["duration_min"] if kind == "attraction" else MEAL_MIN

    for i, d in enumerate(days):
        if d["hotel"] not in w["hotel"]:
            raise Violation("unknown_item", "no hotel %s" % d["hotel"])
        if isinstance(d["transport"], str) and d["transport"] not in w["tr"]:
            raise Violation("unknown_item", "no transport %s" % d["transport"])
        for kind, pid, _ in acts[i]:
            if place(kind, pid) is None:
                raise Violation("unknown_item", "no %s place %s" % (kind, pid))
    # From here on every id is known: collect all violations for the score.
    found = []

    def soft(code, detail):
        found.append((code, detail))

    for i, d in enumerate(days):
        c = spec[i]["city"]
        if w["hotel"][d["hotel"]]["city_id"] != c:
            soft("item_city", "hotel of day %d is not in %s" % (i + 1, c))
        for kind, pid, _ in acts[i]:
            if place(kind, pid)["city_id"] != c:
                soft("item_city", "%s is not in %s" % (pid, c))
    for i, d in enumerate(days):
        tr = d["transport"]
        if not spec[i]["travel"]:
            if tr is not None:
                soft("transport", "day %d has no travel" % (i + 1))
            continue
        if tr is None:
            soft("transport", "day %d needs a transport" % (i + 1))
            continue
        x = w["tr"][tr]
        if x["from_city"] != spec[i - 1]["city"] or x["to_city"] != spec[i]["city"] or x["date"] != spec[i]["date"]:
            soft("transport", "%s does not go from %s to %s on %s" % (tr, spec[i - 1]["city"], spec[i]["city"], spec[i]["date"]))
    for i in range(len(days)):
        n_att = sum(1 for k, _, _ in acts[i] if k == "attraction")
        meals = [k for k, _, _ in acts[i] if k != "attraction"]
        if n_att != spec[i]["attractions"] or meals != spec[i]["meals"]:
            soft("activity_count", "day %d must have %d attractions and the required meals" % (i + 1, spec[i]["attractions"]))
    seen_a, seen_r, rep = set(), set(), None
    for day in acts:
        for kind, pid, _ in day:
            if kind == "attraction":
                if pid in seen_a and rep is None:
                    rep = "%s is visited twice" % pid
                seen_a.add(pid)
            elif task["no_repeat"]:
                if pid in seen_r and rep is None:
                    rep = "%s is used twice" % pid
                seen_r.add(pid)
    if rep:
        soft("repeat", rep)
    for d in days:
        if w["hotel"][d["hotel"]]["rating"] < task["hotel_min_rating"]:
            soft("hotel_rating", "%s is rated below the floor" % d["hotel"])
            break
    if task["hotel_amenity"]:
        for d in days:
            if task["hotel_amenity"] not in w["hotel"][d["hotel"]]["amenity_set"]:
                soft("hotel_amenity", "%s lacks %s" % (d["hotel"], task["hotel_amenity"]))
                break
    bad = [pid for day in acts for k, pid, _ in day
           if k == "attraction" and w["att"][pid]["rating"] < task["attraction_min_rating"]]
    if bad:
        soft("attraction_rating", "%s is rated below the floor" % bad[0])
    if task["diet"]:
        bad = [pid for day in acts for k, pid, _ in day
               if k != "attraction" and task["diet"] not in w["rest"][pid]["diet_set"]]
        if bad:
            soft("dietary", "%s does not serve %s" % (bad[0], task["diet"]))
    for typ, need in sorted(task["quotas"].items()):
        got = sum(1 for day in acts for k, pid, _ in day if k == "attraction" and w["att"][pid]["type"] == typ)
        if got < need:
            soft("quota", "needs at least %d %s" % (need, typ))
            break
    meal_bad = None
    for day in acts:
        for kind, _, start in day:
            if kind == "lunch" and not LUNCH[0] <= start <= LUNCH[1] and meal_bad is None:
                meal_bad = "lunch must start 11:00-13:30"
            if kind == "dinner" and not DINNER[0] <= start <= DINNER[1] and meal_bad is None:
                meal_bad = "dinner must start 17:30-20:30"
    if meal_bad:
        soft("meal_window", meal_bad)
    for i, d in enumerate(days):
        if not acts[i]:
            continue
        earliest, code = DAY_START, "day_start"
        if spec[i]["travel"]:
            code = "arrival_timing"
            if d["transport"] is not None:
                earliest = w["tr"][d["transport"]]["arrive_min"] + TRANSFER
        if acts[i][0][2] < earliest:
            soft(code, "day %d starts before %02d:%02d" % (i + 1, earliest // 60, earliest % 60))
            break
    hours_bad = None
    for i in range(len(days)):
        wd = WEEKDAYS[datetime.date.fromisoformat(spec[i]["date"]).weekday()]
        for kind, pid, start in acts[i]:
            pl = place(kind, pid)
            end = start + duration(kind, pid)
            if (wd in pl["closed"] or start < pl["open_min"] or end > pl["close_min"]) and hours_bad is None:
                hours_bad = "%s is not open for the whole visit on day %d" % (pid, i + 1)
    if hours_bad:
        soft("opening_hours", hours_bad)
    conflict = None
    for day in acts:
        for (ka, ia, sa), (kb, ib, sb) in zip(day, day[1:]):
            if sb < sa + duration(ka, ia) + _travel(place(ka, ia), place(kb, ib)) and conflict is None:
                conflict = "%s starts before %s ends plus travel" % (ib, ia)
    if conflict:
        soft("schedule_conflict", conflict)
    cost = 0
    for i, d in enumerate(days):
        cost += w["hotel"][d["hotel"]]["price"]
        per = w["tr"][d["transport"]]["price"] if d["transport"] is not None else 0
        per += sum(place(k, pid)["price"] for k, pid, _ in acts[i])
        cost += per * task["travelers"]
    if p["total_cost"] != cost:
        soft("cost_mismatch", "total_cost must be %d" % cost)
    if task["budget"] > 0 and cost > task["budget"]:
        soft("budget", "total cost %d exceeds %d" % (cost, task["budget"]))
    return found


# Soft checks of a plan, the denominator of the partial score.
_PLAN_CHECKS = 18


def verify(answer, world, task):
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return {"pass": False, "score": 0.0, "reason": "malformed: answer is not valid JSON",
                    "constraint": "malformed"}
    w = _world(world)
    try:
        if task["kind"] == "lookup":
            found = _check_lookup(w, task, answer)
        else:
            found = _check_plan(w, task, answer)
    except Violation as v:
        return {"pass": False, "score": 0.0, "reason": "%s: %s" % (v.code, v.detail), "constraint": v.code}
    if not found:
        return {"pass": True, "score": 1.0, "reason": "all constraints hold", "constraint": ""}
    codes = {c for c, _ in found}
    score = round(max(0.0, 1.0 - len(codes) / _PLAN_CHECKS), 4)
    code, detail = found[0]
    return {"pass": False, "score": score, "reason": "%s: %s" % (code, detail), "constraint": code}

"""Verifier of a search task: normalised exact match of the answer against the accepted
forms in task["answers"].

Normalisation: Unicode compatibility form without accents, case, punctuation and whitespace,
a leading article, number formatting ("1,200" = "1200" = "1200.0"; "twelve" = "12") and date
formatting ("1873-04-02" = "2 April 1873" = "April 2, 1873" = "2nd of April 1873"). The task's
answer_kind says which rules apply. verify(answer, world, task) never raises for a bad answer.
"""
import json
import re
import unicodedata

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]
_MONTH = {m: i + 1 for i, m in enumerate(_MONTHS)}
_MONTH.update({m[:3]: i + 1 for i, m in enumerate(_MONTHS)})
_MONTH["sept"] = 9
_SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
MAX_ANSWER = 1000


def text_key(s):
    """Case, accents, punctuation, whitespace and a leading article do not matter."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[^\w\s]|_", " ", s)
    s = " ".join(s.split())
    return re.sub(r"^(the|a|an) ", "", s)


def number_key(s):
    t = text_key(s)
    t = re.sub(r"^(about|approximately|around) ", "", t)
    if t in _SMALL:
        return str(_SMALL.index(t))
    if t in _TENS:
        return str(_TENS[t])
    digits = re.sub(r"(?<=\d)[ ,](?=\d{3}\b)", "", s.strip().replace("\u202f", " ").replace("\u00a0", " "))
    m = re.fullmatch(r"[+]?(\d+)(?:\.0+)?", digits.strip().rstrip("."))
    if m:
        return str(int(m.group(1)))
    return None


def year_key(s):
    t = text_key(s)
    m = re.fullmatch(r"(?:(?:in|year) )?(?:ad |ce )?(\d{1,4})(?: ad| ce)?", t)
    return str(int(m.group(1))) if m else None


def date_key(s):
    t = text_key(s.replace("-", " - "))
    t = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", t)
    t = re.sub(r"\b(of|on|the)\b", " ", t)
    parts = t.split()
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        y, m, d = parts                      # 1873-04-02
    elif len(parts) == 3 and parts[1] in _MONTH and parts[0].isdigit() and parts[2].isdigit():
        d, m, y = parts[0], _MONTH[parts[1]], parts[2]      # 2 April 1873
    elif len(parts) == 3 and parts[0] in _MONTH and parts[1].isdigit() and parts[2].isdigit():
        m, d, y = _MONTH[parts[0]], parts[1], parts[2]      # April 2, 1873
    else:
        return None
    try:
        y, m, d = int(y), int(m), int(d)
    except ValueError:
        return None
    if not (1 <= m <= 12 and 1 <= d <= 31 and 1 <= y <= 9999):
        return None
    return "%04d-%02d-%02d" % (y, m, d)


KEYS = {"number": number_key, "year": year_key, "date": date_key}


def answer_key(kind, s):
    key = KEYS.get(kind)
    if key is not None:
        k = key(s)
        if k is not None:
            return kind + ":" + k
    return "text:" + text_key(s)


def _answer_text(answer):
    if isinstance(answer, str):
        s = answer.strip()
        if s.startswith("{"):
            try:
                answer = json.loads(s)
            except ValueError:
                return s
        else:
            return s
    if isinstance(answer, dict) and "answer" in answer:
        answer = answer["answer"]
    if isinstance(answer, bool) or answer is None:
        return None
    if isinstance(answer, (int, float)):
        return str(int(answer)) if float(answer).is_integer() else str(answer)
    return answer if isinstance(answer, str) else None


def verify(answer, world, task):
    text = _answer_text(answer)
    if text is None:
        return {"pass": False, "score": 0.0, "reason": "malformed: the answer must be a string",
                "constraint": "malformed"}
    if not text.strip():
        return {"pass": False, "score": 0.0, "reason": "malformed: the answer is empty", "constraint": "malformed"}
    if len(text) > MAX_ANSWER:
        return {"pass": False, "score": 0.0, "reason": "malformed: the answer is longer than %d characters" % MAX_ANSWER,
                "constraint": "malformed"}
    kind = task.get("answer_kind", "text")
    accepted = {answer_key(kind, a) for a in task["answers"]}
    got = answer_key(kind, text)
    if got in accepted:
        return {"pass": True, "score": 1.0, "reason": "matches the answer", "constraint": ""}
    return {"pass": False, "score": 0.0, "reason": "wrong answer: %s" % got.split(":", 1)[1][:120],
            "constraint": "answer"}

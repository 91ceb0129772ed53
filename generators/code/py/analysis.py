# Code-interpreter environments: analysis questions over generated tables (SQLite, also
# as CSV files), answered with run_python. verify() checks a number against the expected
# value with the task's stated tolerance; reference() runs the pandas reference program
# of a question kind, a path independent of the generator's own (C++) computation.
import csv
import json
import math
import os
import sqlite3
import subprocess
import sys

_WORLD = os.environ.get("ENVFORGE_WORLD_DB", "/world/world.db")
DATA = os.environ.get("ENVFORGE_DATA_DIR", "/tmp/efdata")
_MAX_OUT = 12000

# One pandas program per question kind; each prints the answer. `P` holds the question's
# parameters. Data: orders.csv, products.csv, customers.csv in the working directory.
PROGRAMS = {
    "units_of_product": """
o = pd.read_csv('orders.csv')
print(o.loc[o['product'] == P['product'], 'units'].sum())
""",
    "category_month_revenue": """
o = pd.read_csv('orders.csv', parse_dates=['order_date'])
p = pd.read_csv('products.csv')
d = o.merge(p, on='product')
d = d[(d['category'] == P['category']) & (d['order_date'].dt.month == P['month']) & d['unit_price'].notna()]
print((d['units'] * d['unit_price'] * (1 - d['discount'].fillna(0))).sum())
""",
    "segment_mean_revenue_no_outliers": """
o = pd.read_csv('orders.csv')
c = pd.read_csv('customers.csv')
q1, q3 = o['units'].quantile(0.25), o['units'].quantile(0.75)
o = o[o['units'] <= q3 + 3 * (q3 - q1)]
o = o[o['unit_price'].notna()]
d = o.merge(c, on='customer_id')
d = d[d['segment'] == P['segment']]
print((d['units'] * d['unit_price'] * (1 - d['discount'].fillna(0))).mean())
""",
    "region_daily_units_slope": """
o = pd.read_csv('orders.csv', parse_dates=['order_date'])
c = pd.read_csv('customers.csv')
d = o.merge(c, on='customer_id')
d = d[d['region'] == P['region']]
daily = d.groupby('order_date')['units'].sum()
x = (daily.index - pd.Timestamp(P['start'])).days.to_numpy(dtype=float)
print(np.polyfit(x, daily.to_numpy(dtype=float), 1)[0])
""",
    "signup_to_first_order_days": """
o = pd.read_csv('orders.csv', parse_dates=['order_date'])
c = pd.read_csv('customers.csv', parse_dates=['signup_date'])
c = c[c['region'] == P['region']]
g = o.groupby('customer_id')['order_date'].agg(['min', 'count'])
g = g[g['count'] >= 2].join(c.set_index('customer_id'), how='inner')
print((g['min'] - g['signup_date']).dt.days.mean())
""",
}


def export_csv(world, out_dir):
    """The world's tables as CSV files (empty cells for NULL)."""
    os.makedirs(out_dir, exist_ok=True)
    con = sqlite3.connect("file:%s?mode=ro" % world, uri=True)
    try:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'meta'"):
            cur = con.execute("SELECT * FROM %s" % name)
            with open(os.path.join(out_dir, name + ".csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow([d[0] for d in cur.description])
                for row in cur:
                    w.writerow(["" if v is None else v for v in row])
    finally:
        con.close()


def reference(kind, params, world):
    """Runs the pandas program of `kind` on the world's CSV files; returns its number."""
    out_dir = DATA + "-ref"
    if not os.path.exists(os.path.join(out_dir, "orders.csv")):
        export_csv(world, out_dir)
    code = "import numpy as np\nimport pandas as pd\nP = %s\n%s" % (json.dumps(params), PROGRAMS[kind])
    p = subprocess.run([sys.executable, "-c", code], cwd=out_dir, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("reference program of %s failed: %s" % (kind, p.stderr[-1500:]))
    return float(p.stdout.strip().splitlines()[-1])


def _number(answer):
    if isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float)):
        return float(answer)
    if isinstance(answer, str):
        try:
            return float(answer.strip().replace(",", ""))
        except ValueError:
            return None
    if isinstance(answer, dict) and "value" in answer:
        return _number(answer["value"])
    return None


def verify(answer, world, task):
    x = _number(answer)
    if x is None:
        return {"pass": False, "score": 0.0, "constraint": "format",
                "reason": "format: the answer must be a number, got %s" % json.dumps(answer)[:80]}
    if math.isnan(x) or math.isinf(x):
        return {"pass": False, "score": 0.0, "constraint": "format", "reason": "format: the answer is not finite"}
    want, tol = float(task["expected"]), float(task["tolerance"])
    if abs(x - want) <= tol:
        return {"pass": True, "score": 1.0, "constraint": "", "reason": "within %g of the expected value" % tol}
    return {"pass": False, "score": 0.0, "constraint": "value",
            "reason": "value: %s is off by more than the tolerance %g" % (x, tol)}


# ---------------------------------------------------------------- the agent's tools

def _data():
    if not os.path.exists(os.path.join(DATA, "orders.csv")):
        export_csv(_WORLD, DATA)
    return DATA


def list_data():
    """The data files and the columns of each table."""
    d = _data()
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), newline="") as f:
            header = next(csv.reader(f))
            rows = sum(1 for _ in f)
        out[name] = {"columns": header, "rows": rows}
    return {"dir": d, "sqlite": _WORLD, "files": out}


def run_python(code, timeout_s=30):
    """Runs Python (numpy and pandas available) in the data directory; returns its output."""
    d = _data()
    try:
        p = subprocess.run([sys.executable, "-c", code], cwd=d, capture_output=True, text=True,
                           timeout=min(float(timeout_s), 60.0))
    except subprocess.TimeoutExpired:
        return {"error": "the code ran past %s s" % timeout_s}
    clip = lambda t: t if len(t) <= _MAX_OUT else t[:_MAX_OUT] + "\n... (clipped)"
    return {"exit_code": p.returncode, "stdout": clip(p.stdout), "stderr": clip(p.stderr)}

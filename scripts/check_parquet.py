#!/usr/bin/env python3
"""Checks an `envforge export --format verl` parquet with pyarrow, pandas and HF datasets
(whichever are installed; --require makes a missing one an error):

    python3 scripts/check_parquet.py train.parquet [--tool-config tools.yaml] [--rows 3] [--require]

Asserts the columns verl, SkyRL and verifiers read, their types, and that every row is
consistent (prompt is chat, the ids agree, tools_kwargs points at the row's task), then
prints a few rows. Exit status 0 when every check passes."""

import argparse
import json
import sys

COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info", "agent_name", "env_class",
           "reward_spec", "answer", "info", "example_id", "task_id", "environment_id", "category", "difficulty"]


def check_row(i, row):
    where = f"row {i}"
    assert isinstance(row["data_source"], str) and row["data_source"].startswith("envforge/"), where
    prompt = list(row["prompt"])
    assert prompt and all(set(m) == {"role", "content"} for m in prompt), f"{where}: prompt {prompt!r}"
    assert prompt[-1]["role"] == "user", where
    assert row["reward_model"]["style"] == "rule", where
    json.loads(row["reward_model"]["ground_truth"])
    assert row["reward_spec"]["ground_truth"] == row["reward_model"]["ground_truth"] == row["answer"], where
    extra = row["extra_info"]
    assert extra["task_id"] == row["task_id"] and int(extra["index"]) == int(row["example_id"]), where
    kwargs = extra["tools_kwargs"]
    assert kwargs and all(v["create_kwargs"]["task_id"] == row["task_id"] for v in kwargs.values()), where
    assert extra["interaction_kwargs"]["task_id"] == row["task_id"], where
    info = json.loads(row["info"])
    assert info["task_id"] == row["task_id"], where
    names = [t["function"]["name"] for t in info["tool_defs"]]
    assert "submit" in names and set(names) <= set(kwargs), f"{where}: tools {names} vs {sorted(kwargs)}"
    assert row["env_class"] == "envforge" and row["agent_name"] == "tool_agent", where


def with_pyarrow(path, show):
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    print(f"pyarrow: {table.num_rows} rows, {pq.ParquetFile(path).num_row_groups} row group(s)")
    print(table.schema)
    assert table.column_names == COLUMNS, table.column_names
    rows = table.to_pylist()
    for i, row in enumerate(rows):
        check_row(i, row)
    for row in rows[:show]:
        print(json.dumps(row, ensure_ascii=False)[:2000])
    return len(rows)


def with_pandas(path, show):
    import pandas as pd
    df = pd.read_parquet(path)
    print(f"pandas: {df.shape}")
    assert list(df.columns) == COLUMNS, list(df.columns)
    for i, row in enumerate(df.to_dict("records")):
        row["prompt"] = [dict(m) for m in row["prompt"]]
        check_row(i, row)
    print(df.head(show).to_string()[:4000])
    return len(df)


def with_datasets(path, show):
    from datasets import load_dataset
    ds = load_dataset("parquet", data_files=path, split="train")
    print(f"datasets: {ds}")
    assert ds.column_names == COLUMNS, ds.column_names
    for i, row in enumerate(ds):
        check_row(i, row)
    for row in ds.select(range(min(show, len(ds)))):
        print(json.dumps(row, ensure_ascii=False, default=str)[:2000])
    return len(ds)


def check_tool_config(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    tools = cfg["tools"]
    for t in tools:
        assert t["class_name"] == "envforge_client.verl_tool.EnvforgeTool", t
        assert t["config"]["type"] == "native" and t["config"]["server_url"], t
        fn = t["tool_schema"]["function"]
        assert t["tool_schema"]["type"] == "function" and fn["name"] and fn["parameters"]["type"] == "object", t
    print(f"tool config: {len(tools)} tool(s): {', '.join(t['tool_schema']['function']['name'] for t in tools)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parquet")
    ap.add_argument("--tool-config")
    ap.add_argument("--rows", type=int, default=3, help="rows to print")
    ap.add_argument("--require", action="store_true", help="fail when a reader is not installed")
    args = ap.parse_args()
    counts, missing = {}, []
    for name, fn in [("pyarrow", with_pyarrow), ("pandas", with_pandas), ("datasets", with_datasets)]:
        try:
            counts[name] = fn(args.parquet, args.rows)
        except ImportError as e:
            missing.append(name)
            print(f"{name}: not installed ({e})", file=sys.stderr)
    if args.tool_config:
        check_tool_config(args.tool_config)
    if len(set(counts.values())) > 1:
        sys.exit(f"readers disagree on the row count: {counts}")
    if args.require and missing:
        sys.exit(f"missing readers: {', '.join(missing)}")
    if not counts:
        sys.exit("no parquet reader installed (pip install pyarrow pandas datasets)")
    print(f"OK: {counts}")


if __name__ == "__main__":
    main()

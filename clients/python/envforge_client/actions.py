"""Text in, action out: for trainers whose environments receive the model's raw text
(SkyRL, OpenRLHF). A tool call is the last ``<tool_call>{"name": ..., "arguments": {...}}
</tool_call>`` (the Hermes / Qwen convention); otherwise the text is the final answer (the
last ``<answer>...</answer>`` when present), parsed as JSON when it is JSON."""

import json
import re

_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S)


def answer_value(text):
    """The answer a text gives: JSON when it parses, else the stripped text."""
    found = _ANSWER.findall(text or "")
    body = found[-1] if found else (text or "").strip()
    try:
        return json.loads(body)
    except ValueError:
        return body


def parse_action(text):
    """``{"type": "call_tool", "tool_name", "arguments"}`` or ``{"type": "submit", "answer"}``;
    a malformed tool call is ``{"type": "invalid", "error"}`` so the model can be told."""
    calls = _TOOL_CALL.findall(text or "")
    if calls:
        try:
            call = json.loads(calls[-1])
        except ValueError as e:
            return {"type": "invalid", "error": f"the tool call is not JSON: {e}"}
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return {"type": "invalid", "error": 'a tool call needs {"name": str, "arguments": {...}}'}
        args = call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                return {"type": "invalid", "error": "the tool call's arguments are not JSON"}
        if not isinstance(args, dict):
            return {"type": "invalid", "error": "the tool call's arguments must be an object"}
        if call["name"] == "submit":
            return {"type": "submit", "answer": args.get("answer")}
        return {"type": "call_tool", "tool_name": call["name"], "arguments": args}
    return {"type": "submit", "answer": answer_value(text)}


def observation_text(observation):
    """What the model reads after a step: the tool's result or its error, as text."""
    error = observation.get("error")
    if error:
        if isinstance(error, dict):
            return f"Error ({error.get('error_type', 'error')}): {error.get('message', '')}"
        return f"Error: {error}"
    result = observation.get("result")
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def task_id_of(row_or_label):
    """A task id from a dataset row (``task_id`` or ``extra_info.task_id``), a label that is
    the id, or a label that is JSON text with ``task_id``."""
    value = row_or_label
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                return text
        else:
            return text
    if isinstance(value, dict):
        if isinstance(value.get("task_id"), str):
            return value["task_id"]
        for key in ("extra_info", "info", "extras"):
            inner = value.get(key)
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner)
                except ValueError:
                    continue
            if isinstance(inner, dict) and isinstance(inner.get("task_id"), str):
                return inner["task_id"]
    raise ValueError(f"no task_id in {str(row_or_label)[:200]!r}")

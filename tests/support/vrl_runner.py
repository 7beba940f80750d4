"""Runs VRL with Vector's own compiler (the `vector-vrl` package, CPython >= 3.12).

Standard library plus vector_vrl only: the suite (on 3.11) starts this script with the
`.venv-vrl` interpreter. Reads a JSON job list on stdin, writes one result per job:

- {"compile": "<vrl>"}                 -> {"ok": bool, "error": str | null}
- {"chain": [step, ...], "event": {}}  -> {"event": {...}} or {"dropped": "<why>"}
  where a step is {"remap": "<vrl>"} or {"filter": "<condition>"}, applied in order as Vector
  applies a pipeline's transforms to one event.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import vector_vrl


def _decoded(fields: dict[str, Any]) -> dict[str, Any]:
    # execute_vrl hands nested objects back as JSON text.
    return {key: _json_or_text(value) for key, value in fields.items()}


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _run(vrl: str, event: dict[str, Any]) -> dict[str, Any]:
    (result,) = vector_vrl.execute_vrl(vrl, [json.dumps(event)])
    return _decoded(result)


def chain(steps: list[dict[str, str]], event: dict[str, Any]) -> dict[str, Any]:
    for step in steps:
        if "filter" in step:
            checked = _run(f".__keep = ({step['filter']})", event)
            # A condition that errors drops the event, as Vector's filter does.
            if checked.get("error") or checked.get("__keep") is not True:
                return {"dropped": checked.get("error") or "condition false"}
        else:
            event = _run(step["remap"], event)
            if "error" in event:
                return {"dropped": event["error"]}
    return {"event": event}


def main() -> None:
    results = []
    for job in json.load(sys.stdin):
        if "compile" in job:
            checked = vector_vrl.validate_vrl(job["compile"])
            results.append({"ok": bool(checked.success), "error": checked.error})
        else:
            results.append(chain(job["chain"], job["event"]))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

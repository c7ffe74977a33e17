#!/usr/bin/env python3
"""Strip notebooks for git: outputs, execution counts, widget state, run timings.

    python tools/nbstrip.py notebooks/*.ipynb            (what `make strip` runs)
    python tools/nbstrip.py --check notebooks/*.ipynb    (exit 1 and list the unstripped)

One exception: a cell whose first line is `# NBVAL_CHECK_OUTPUT` keeps its plain-text
output (stream text and text/plain results, nothing else) and the execution count 1. That
output is the reference nbval compares a fresh run against, and nbval only compares cells
with an execution count (it takes the others as never run). These references are small,
deterministic values (shapes, parameter counts, closed-form numbers), produced by running
the notebook in quick mode: `make references` refreshes them. Everything else goes.
Standard library only; writes Jupyter's JSON layout.
"""
import copy
import json
import sys
from pathlib import Path

CELL_METADATA_DROPPED = ("execution", "ExecuteTime", "collapsed", "scrolled")
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def is_checked(cell):
    """True for a code cell whose output nbval compares (its first line is the marker)."""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    lines = source.lstrip().splitlines()
    return bool(lines) and lines[0].strip() == CHECK_MARKER


def reference_outputs(outputs):
    """The plain-text part of a checked cell's outputs, in a canonical form."""
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            kept.append({"name": output["name"], "output_type": "stream", "text": output["text"]})
        elif kind in ("execute_result", "display_data") and "text/plain" in output.get("data", {}):
            result = {"data": {"text/plain": output["data"]["text/plain"]}, "metadata": {},
                      "output_type": kind}
            if kind == "execute_result":
                result["execution_count"] = 1
            kept.append(result)
    return kept


def strip(notebook):
    """Strip a notebook (the parsed JSON dict) in place."""
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        for key in CELL_METADATA_DROPPED:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") != "code":
            continue
        if is_checked(cell):
            cell["outputs"] = reference_outputs(cell.get("outputs", []))
            cell["execution_count"] = 1 if cell["outputs"] else None
        else:
            cell["execution_count"] = None
            cell["outputs"] = []
    return notebook


def is_stripped(notebook):
    return strip(copy.deepcopy(notebook)) == notebook


def dumps(notebook):
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    paths = [Path(arg) for arg in argv if arg != "--check"]
    unstripped = []
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if is_stripped(notebook):
            continue
        unstripped.append(path)
        if not check:
            path.write_text(dumps(strip(notebook)), encoding="utf-8")
            print(f"stripped {path}")
    if check and unstripped:
        print("not stripped (run `make strip`):", *unstripped, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

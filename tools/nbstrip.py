#!/usr/bin/env python3
"""Strip notebooks for git: outputs, execution counts, widget state, run timings.

    python tools/nbstrip.py notebooks/*.ipynb            (what `make strip` runs)
    python tools/nbstrip.py --check notebooks/*.ipynb    (exit 1 and list the unstripped)

No exceptions: nbval takes a cell without an execution count as never run and does not
compare its output, so in a stripped notebook a `# NBVAL_CHECK_OUTPUT` cell only has to run.
Checks that must hold in CI are asserts. Standard library only; writes Jupyter's JSON layout.
"""
import copy
import json
import sys
from pathlib import Path

CELL_METADATA_DROPPED = ("execution", "ExecuteTime", "collapsed", "scrolled")


def strip(notebook):
    """Strip a notebook (the parsed JSON dict) in place."""
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        for key in CELL_METADATA_DROPPED:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") != "code":
            continue
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

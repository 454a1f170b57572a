"""The largest modules and the longest functions of core/, ui/, views/ and app.py, counted from the syntax tree.

Run from the repository root: ``python scripts/code_facts.py``. Used to compare the code's shape before and after
a restructuring (check out the older commit and run it there too)."""

import ast
import glob


def main() -> None:
    files = sorted(glob.glob("core/**/*.py", recursive=True) + glob.glob("ui/*.py") + glob.glob("views/*.py")
                   + ["app.py"])
    sizes = sorted(((sum(1 for _ in open(f, encoding="utf-8")), f) for f in files), reverse=True)[:10]
    print("largest modules (lines):")
    for n, f in sizes:
        print(f"  {n:4d} {f}")
    rows = []
    for f in files:
        for node in ast.walk(ast.parse(open(f, encoding="utf-8").read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows.append((node.end_lineno - node.lineno + 1, f"{f}: {node.name}"))
    rows.sort(reverse=True)
    print("longest functions (lines):")
    for n, name in rows[:10]:
        print(f"  {n:4d} {name}")
    print("functions over 60 lines:", sum(1 for n, _ in rows if n > 60), "of", len(rows))


if __name__ == "__main__":
    main()

"""The package's shape, measured the same way before and after a restructure.

Prints, for ``judgebench/``: lines and files per folder, import cycles (strongly connected groups of modules,
counting module-level imports, and again counting every import, those inside functions too), functions over
50 lines, and branches on a kind, format or provider name (an ``==``/``!=``/``in`` comparison against one of
those names as a string literal). ``--json`` prints the same as one JSON object.

    python bench/bench_structure.py [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "judgebench"
LONG_FUNCTION = 50
# The names whose string comparisons are branches a registry should replace.
KIND_NAMES = frozenset({"single", "pairwise", "battle", "rubric", "pairwise-battle"})
FORMAT_NAMES = frozenset({"judgebench", "fastchat", "alpaca_eval", "alpaca-eval", "arena_hard", "arena-hard",
                          "judgebench-pairs", "arena_db", "arena-db", "mt_bench", "mt-bench", "arena", "inspect"})
PROVIDER_NAMES = frozenset({"openai", "anthropic", "vllm", "sglang", "llamacpp", "llama.cpp", "local", "embedded",
                            "ray", "azure", "together"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, name: str, is_package: bool, top_level_only: bool,
                     known: set[str]) -> set[str]:
    found: set[str] = set()
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level, including inside if/try blocks at module level (not TYPE_CHECKING)
        nodes = []
        stack: list[ast.stmt] = list(tree.body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                stack.extend(node.orelse)
                continue
            nodes.append(node)
            if isinstance(node, (ast.If, ast.Try)):
                stack.extend(node.body)
                stack.extend(node.orelse)
                stack.extend(getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    stack.extend(handler.body)
    base = name if is_package else name.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found |= submodules  # `from pkg import module` imports the module, not what pkg/__init__ defines
            if len(submodules) < len(node.names):
                found.add(target)
    return {m for m in found if m in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def name_branches(tree: ast.Module) -> dict[str, int]:
    counts = {"kind": 0, "format": 0, "provider": 0}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        literals: list[str] = []
        for side in [node.left, *node.comparators]:
            if isinstance(side, ast.Constant) and isinstance(side.value, str):
                literals.append(side.value)
            elif isinstance(side, (ast.Tuple, ast.Set, ast.List)):
                literals += [e.value for e in side.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if not literals or not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            continue
        for family, names in (("kind", KIND_NAMES), ("format", FORMAT_NAMES), ("provider", PROVIDER_NAMES)):
            if any(value in names for value in literals):
                counts[family] += 1
                break
    return counts


def measure() -> dict[str, object]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    trees = {module_name(p): (p, ast.parse(p.read_text(), str(p))) for p in files}
    known = set(trees)
    folders: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "lines": 0})
    long_functions: list[str] = []
    branches: dict[str, int] = {"kind": 0, "format": 0, "provider": 0}
    branch_modules: dict[str, set[str]] = {"kind": set(), "format": set(), "provider": set()}
    for name, (path, tree) in trees.items():
        folder = str(path.parent.relative_to(PACKAGE.parent))
        folders[folder]["files"] += 1
        folders[folder]["lines"] += len(path.read_text().splitlines())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONG_FUNCTION:
                    long_functions.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length})")
        for family, count in name_branches(tree).items():
            branches[family] += count
            if count:
                branch_modules[family].add(name)
    graphs = {}
    for label, top in (("module_level", True), ("all_imports", False)):
        graphs[label] = {name: imported_modules(tree, name, path.name == "__init__.py", top, known) - {name}
                         for name, (path, tree) in trees.items()}
    n_functions = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for _, tree in trees.values() for n in ast.walk(tree))
    return {
        "files": len(files),
        "lines": sum(f["lines"] for f in folders.values()),
        "folders": dict(sorted(folders.items())),
        "functions": n_functions,
        "functions_over_50_lines": sorted(long_functions),
        "import_cycles": {label: cycles(graph) for label, graph in graphs.items()},
        "name_branches": branches,
        "name_branch_modules": {k: len(v) for k, v in branch_modules.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['files']} files, {result['lines']} lines, {result['functions']} functions")
    for folder, size in result["folders"].items():  # type: ignore[attr-defined]
        print(f"  {folder:32} {size['files']:3} files {size['lines']:6} lines")
    long = result["functions_over_50_lines"]
    print(f"functions over {LONG_FUNCTION} lines: {len(long)}")  # type: ignore[arg-type]
    for entry in long:  # type: ignore[attr-defined]
        print(f"  {entry}")
    for label, groups in result["import_cycles"].items():  # type: ignore[attr-defined]
        print(f"import cycles ({label}): {len(groups)}")
        for group in groups:
            print(f"  {' <-> '.join(group)}")
    print("branches on a name: " + ", ".join(f"{k} {v} in {result['name_branch_modules'][k]} modules"  # type: ignore[index]
                                            for k, v in result["name_branches"].items()))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()

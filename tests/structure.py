"""Structure figures of the product code: import cycles, private names used across modules, long
files and the writers of `Draft.status`.

    .venv/bin/python tests/structure.py        # prints the findings, then one JSON line

Imports inside functions count like those at the top: a lazy import hides a cycle, it does not
remove it. `tests/test_structure.py` keeps every figure at its target.
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aios", "editorial", "agents", "governance")
MAX_LINES = 500


def product_files() -> dict[str, Path]:
    """Dotted module name → file, migrations and tests left out."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported project module, names imported from it) for every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    found.append((name, []))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve_from(module, is_package, node)
            plain: list[str] = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:  # `from pkg import module`
                    found.append((sub, []))
                else:
                    plain.append(alias.name)
            if plain:
                name = target
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    found.append((name, plain))
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one file are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _draft_status_writes(tree: ast.AST) -> int:
    """Assignments to `<draft-ish>.status` and `Draft.objects….update(status=…)` calls."""
    count = 0
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "status" \
                    and "draft" in ast.unparse(target.value).lower():
                count += 1
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                and any(k.arg == "status" for k in node.keywords) and ast.unparse(node.func.value).startswith("Draft."):
            count += 1
    return count


def measure() -> dict:
    modules = product_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    private: list[str] = []
    long_files: dict[str, int] = {}
    status_writers: dict[str, int] = {}
    for name, path in modules.items():
        for target, names in imports_of(name, path, modules):
            if target != name:
                graph[name].add(target)
                private += [f"{name} ← {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            long_files[str(path.relative_to(ROOT))] = lines
        writes = _draft_status_writes(ast.parse(path.read_text()))
        if writes:
            status_writers[name] = writes
    cycles = strongly_connected(graph)
    return {
        "files": len(modules),
        "import_cycles": len(cycles),
        "files_in_cycles": sum(len(c) for c in cycles),
        "private_imports": len(private),
        "files_over_500_lines": len(long_files),
        "draft_status_writer_modules": len(status_writers),
        "details": {"cycles": cycles, "private": sorted(private), "long_files": long_files,
                    "status_writers": status_writers},
    }


def main() -> None:
    figures = measure()
    details = figures.pop("details")
    for cycle in details["cycles"]:
        print("cycle:", " → ".join(cycle))
    for line in details["private"]:
        print("private name across modules:", line)
    for path, lines in details["long_files"].items():
        print(f"over {MAX_LINES} lines: {path} ({lines})")
    for module, writes in details["status_writers"].items():
        print(f"writes Draft.status: {module} ({writes}×)")
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())

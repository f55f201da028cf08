"""The codeb package read as source: its modules, their syntax trees and their imports.

The structural tests use this to hold the layout to what README and DESIGN
promise, without importing anything.
"""

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "codeb"


@dataclass(frozen=True)
class Import:
    module: str        # the importing module
    target: str        # the codeb module it names (a submodule when `from x import submodule`)
    line: int
    in_function: bool  # inside a function body: runs late, hides from a reader


@dataclass(frozen=True)
class Module:
    name: str     # codeb.accounts.passkeys
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _name_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[_name_of(path)] = Module(_name_of(path), path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports() -> list[Import]:
    known = modules()
    found = []
    for module in known.values():
        late = {id(n) for f in _functions(module.tree) for n in ast.walk(f)}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            else:
                continue
            for target in targets:
                if target == "codeb" or target.startswith("codeb."):
                    found.append(Import(module.name, target, node.lineno, id(node) in late))
    return found


def graph(group=lambda name: name) -> dict[str, set[str]]:
    """Who imports whom, with every module mapped through `group` (e.g. to its package)."""
    edges: dict[str, set[str]] = {group(name): set() for name in modules()}
    for imp in imports():
        source, target = group(imp.module), group(imp.target)
        if source != target:
            edges.setdefault(source, set()).add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def top_level(name: str) -> str:
    """codeb.accounts.passkeys -> codeb.accounts; codeb.audit -> codeb.audit."""
    return ".".join(name.split(".")[:2])


def calls(tree: ast.AST):
    """Every call with its dotted callee name, e.g. ('os.path.exists', node)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield dotted(node.func), node


def dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        return dotted(node.func) + "()"
    return ""

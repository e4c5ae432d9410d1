"""No module outside a storefront's own folder names that storefront (issue 13, part 1).

The core reaches a storefront only through daemon.storefronts.registry, whose name -> module
table is the one place that names each plug-in. Code is checked (imports, names, strings,
f-strings), not prose: a docstring or comment may say where a fact came from ("Pressero's
Requested Ship Date", seed 004).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from daemon.storefronts import registry

DAEMON = Path(__file__).resolve().parents[2] / "daemon"
REGISTRY = DAEMON / "storefronts" / "registry.py"
#: the developer harnesses behind `make demo` and `make sandbox`: they run one storefront's
#: sandbox against one MIS's sandbox by design (they are tools, not the daemon)
TOOLS = (
    DAEMON / "demo.py",
    DAEMON / "demo_tharstern.py",
    DAEMON / "testing" / "sandbox_session.py",
)


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_words(source: str) -> list[tuple[int, str]]:
    """(line, text) of every identifier, imported module and non-docstring string."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    words: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            words.append((line, node.value))
        elif isinstance(node, ast.Name):
            words.append((line, node.id))
        elif isinstance(node, ast.Attribute):
            words.append((line, node.attr))
        elif isinstance(node, ast.ImportFrom):
            words.append((line, node.module or ""))
        elif isinstance(node, ast.alias):
            words += [(line, node.name), (line, node.asname or "")]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            words.append((line, node.name))
        elif isinstance(node, ast.arg):
            words.append((line, node.arg))
    return words


def offenders(name: str) -> list[str]:
    pattern = re.compile(re.escape(name), re.IGNORECASE)
    own = DAEMON / "storefronts" / name
    found = []
    for path in sorted(DAEMON.rglob("*.py")):
        if path.is_relative_to(own) or path == REGISTRY or path in TOOLS:
            continue
        for line, word in code_words(path.read_text(encoding="utf-8")):
            if pattern.search(word):
                found.append(f"{path.relative_to(DAEMON.parent)}:{line}: {word[:60]!r}")
    return found


def test_no_core_module_names_a_storefront() -> None:
    assert registry.STOREFRONTS, "no storefront registered"
    for name in registry.STOREFRONTS:
        assert offenders(name) == [], f"{name} is named outside its folder"


def test_the_registry_names_each_storefront_once() -> None:
    text = REGISTRY.read_text(encoding="utf-8")
    for name, module in registry.STOREFRONTS.items():
        lines = [line for line in text.splitlines() if name in line.lower()]
        assert lines == [f'    "{name}": "{module}",'], lines


def test_the_check_sees_code_but_not_prose() -> None:
    source = (
        '"""About Pressero."""\n'
        "# Pressero's field\n"
        "from daemon.storefronts.pressero import driver\n"
        'KIND = "pressero.webhook"\n'
        "def f(x: int) -> str:\n"
        '    """Pressero again."""\n'
        '    return f"{x}:pressero"\n'
    )
    hits = [line for line, word in code_words(source) if "pressero" in word.lower()]
    assert hits == [3, 4, 7]

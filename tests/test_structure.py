"""The codebase's size rules (docs/ARCHITECTURE.md): no file over 500 lines in descend/, no function over 60 lines in
the report and CLI packages, where long functions used to hide several jobs."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "descend"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
SHORT_FUNCTION_PACKAGES = ("report", "cli")


def _long_functions(path: Path, limit: int) -> list[str]:
    """`name (N lines)` for each function or method in `path` whose body spans more than `limit` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = node.end_lineno - first + 1
            if lines > limit:
                found.append(f"{node.name} ({lines} lines)")
    return found


def test_no_file_over_the_limit() -> None:
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert not long, f"split these by responsibility (limit {MAX_FILE_LINES} lines): {long}"


@pytest.mark.parametrize("package", SHORT_FUNCTION_PACKAGES)
def test_no_long_functions_in(package: str) -> None:
    paths = sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []
    paths += [p for p in ROOT.glob(f"{package}*.py")]  # a module not yet moved into its package counts too
    long = {str(p.relative_to(ROOT.parent)): f for p in paths if (f := _long_functions(p, MAX_FUNCTION_LINES))}
    assert not long, f"split these (limit {MAX_FUNCTION_LINES} lines): {long}"


def test_the_checker_measures_functions(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    src = tmp_path / "m.py"
    src.write_text(f"@staticmethod\ndef f():\n{body}\n\ndef g():\n    return 1\n")
    assert _long_functions(src, 60) == ["f (63 lines)"]
    assert _long_functions(src, 63) == []

"""The code's shape: small files, and imports that flow one way (the README's module map)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "eucaqa"
MAX_LINES = 400
#: The README's module map, top to bottom: a module may import only modules before it.
LAYERS = [
    "errors", "settings", "version", "ocr", "documents", "chunking", "embedding", "reader", "links",
    "index.store", "index.loaded", "index.build", "index",
    "retrieval", "names", "evidence", "answer_model", "candidates", "answering", "evaluation",
    "render", "uploads", "app", "server", "cli", "__main__",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in the file (lazy imports count)."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{target}.{alias.name}" if target else alias.name
                found.add(child if child in known else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eucaqa."):
            found.add(node.module.removeprefix("eucaqa."))
    return {module for module in found if module in known}


def test_no_file_of_src_or_benchmarks_is_over_400_lines():
    files = list((ROOT / "src").rglob("*.py")) + list((ROOT / "benchmarks").rglob("*.py"))
    assert len(files) > 20
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_every_module_is_on_the_map_and_imports_only_modules_before_it():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py"}
    assert set(modules) == set(LAYERS)
    wrong = []
    for name, path in modules.items():
        for target in imported_modules(path):
            # a package's __init__ re-exports its own modules
            if target.startswith(name + ".") and path.name == "__init__.py":
                continue
            if LAYERS.index(target) >= LAYERS.index(name):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_the_import_check_sees_lazy_and_relative_imports(tmp_path):
    # the checker itself must find an import hidden inside a function
    imports = imported_modules(PACKAGE / "cli.py")
    assert {"server", "answering", "index", "evaluation"} <= imports

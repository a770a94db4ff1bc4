"""The code's shape: small files, and imports that flow one way (the module map of docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "eucaqa"
MAX_LINES = 400
#: The module map of docs/architecture.md, top to bottom: a module may import only modules before it.
LAYERS = [
    "errors", "settings", "version", "text", "scanned_tables", "ocr", "documents", "chunking", "embedding", "file_worker", "links",
    "index.store", "index.loaded", "index.build", "index",
    "retrieval", "names", "conversation", "evidence", "features", "answer_model", "candidates", "choosing", "answering", "evaluation",
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


def _python_files() -> list[Path]:
    folders = [ROOT / "src", ROOT / "tests", ROOT / "eval", ROOT / "benchmarks"]
    return [path for folder in folders for path in folder.rglob("*.py") if "work" not in path.relative_to(ROOT).parts]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_nothing_imports_a_private_name_or_module_of_another_module_or_a_dependency():
    wrong = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                modules = (node.module or "").split(".")
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [], [alias.name for alias in node.names]
                modules = [part for name in names for part in name.split(".")]
            else:
                continue
            private = [part for part in modules + names if _is_private(part)]
            if private:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {', '.join(private)}")
    assert wrong == []


def test_the_import_check_sees_a_private_name():
    source = "from bm25s.tokenization import _infer_stopwords\nimport a._b\nfrom x import __version__\n"
    found = [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = [alias.name for node in found for alias in node.names]
    assert [name for name in names for part in name.split(".") if _is_private(part)] == ["_infer_stopwords", "a._b"]


def test_text_analysis_lives_in_one_ground_floor_module():
    """Stemming, stopwords, tokens and sentence splitting: only eucaqa.text uses the libraries for them."""
    text_module = PACKAGE / "text.py"
    assert imported_modules(text_module) == set()  # it imports nothing of eucaqa
    text_libraries = {"Stemmer", "blingfire"}
    users = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                if name.split(".")[0] in text_libraries:
                    users.setdefault(module_name(path), set()).add(name)
    assert set(users) == {"text"}
    # the tokenize of bm25s, too, is called in text.py only
    callers = [module_name(p) for p in PACKAGE.rglob("*.py") if "bm25s.tokenize(" in p.read_text(encoding="utf-8")]
    assert callers == ["text"]
    for module in ("chunking", "index.store", "names", "evidence", "candidates", "answering"):
        path = PACKAGE / (module.replace(".", "/") + ".py")
        assert "text" in imported_modules(path), module


def test_candidate_and_answer_features_are_defined_once_and_read_by_name():
    from eucaqa import features

    for names in (features.CANDIDATE_FEATURES, features.ANSWER_FEATURES):
        assert len(names) == len(set(names)) and all(isinstance(name, str) for name in names)
    defined, positional = [], []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in ("CANDIDATE_FEATURES", "ANSWER_FEATURES"):
                        defined.append(f"{path.relative_to(ROOT)}:{target.id}")
            # candidate.features[...] read or written by position outside features.py
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "features":
                positional.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr == "index" and isinstance(node.value, ast.Name) \
                    and node.value.id in ("CANDIDATE_FEATURES", "ANSWER_FEATURES"):
                positional.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sorted(defined) == ["src/eucaqa/features.py:ANSWER_FEATURES", "src/eucaqa/features.py:CANDIDATE_FEATURES"]
    assert [place for place in positional if not place.startswith("src/eucaqa/features.py")] == []


def test_a_feature_vector_must_name_every_feature_once():
    import pytest

    from eucaqa.features import ANSWER_FEATURES, feature_vector

    values = dict.fromkeys(ANSWER_FEATURES, 0.5)
    assert list(feature_vector(values, ANSWER_FEATURES)) == [0.5] * len(ANSWER_FEATURES)
    with pytest.raises(ValueError, match="missing \\['best_dense'\\]"):
        feature_vector({k: v for k, v in values.items() if k != "best_dense"}, ANSWER_FEATURES)
    with pytest.raises(ValueError, match="unknown \\['surprise'\\]"):
        feature_vector({**values, "surprise": 1.0}, ANSWER_FEATURES)


def test_the_answer_model_names_the_codes_features_and_a_mismatch_is_a_clear_error(tmp_path):
    import json

    import pytest

    from eucaqa.answer_model import MODEL_FILE, load_answer_model
    from eucaqa.errors import EucaqaError
    from eucaqa.features import ANSWER_FEATURES, CANDIDATE_FEATURES

    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert tuple(data["ranker"]["features"]) == CANDIDATE_FEATURES
    assert tuple(data["confidence"]["features"]) == ANSWER_FEATURES
    data["ranker"]["features"][0] = "renamed_dense"
    (tmp_path / "model.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(EucaqaError, match=r"missing \['dense'\], unknown \['renamed_dense'\].*make train"):
        load_answer_model(tmp_path / "model.json")


def test_every_environment_variable_read_is_listed_in_settings_and_in_the_usage_page():
    import re

    from eucaqa.settings import ENVIRONMENT

    read = set()
    for path in _python_files():
        if path.parent.name == "tests" and path.name == "test_structure.py":
            continue
        text = path.read_text(encoding="utf-8")
        if path == PACKAGE / "settings.py":  # its ENVIRONMENT table names them all; the rest of it reads some
            start = text.index("ENVIRONMENT: dict")
            text = text[:start] + text[text.index("\n}\n", start):]
        read |= set(re.findall(r"\bEUCAQA_[A-Z_]*[A-Z]\b", text))
    assert len(read) >= 15
    assert read == set(ENVIRONMENT), (sorted(read - set(ENVIRONMENT)), sorted(set(ENVIRONMENT) - read))
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert [name for name in ENVIRONMENT if f"`{name}`" not in usage] == []


def _relative_links(markdown: str) -> list[str]:
    import re

    code_free = re.sub(r"```.*?```", "", markdown, flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", code_free) + re.findall(r'src="([^"]+)"', code_free)
    return [link for link in links if not re.match(r"[a-z]+:|#", link)]


def test_every_relative_link_of_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "eval").rglob("*.md"))]
    pages = [page for page in pages if "work" not in page.relative_to(ROOT).parts]
    assert len(pages) >= 9
    broken, seen = [], 0
    for page in pages:
        for link in _relative_links(page.read_text(encoding="utf-8")):
            seen += 1
            target = (page.parent / link.split("#")[0]).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert seen >= 20
    assert broken == []


def test_the_link_check_finds_a_broken_link():
    assert _relative_links("see [a](docs/usage.md), [b](https://x.org), [c](#top)\n```\n[d](nope.md)\n```") == ["docs/usage.md"]


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
    for page in ("usage", "deployment", "architecture", "quality", "performance", "reliability", "experiments"):
        assert (ROOT / "docs" / f"{page}.md").is_file(), page

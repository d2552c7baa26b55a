"""The architecture, checked on the source: who may import whom.

- the doors (``api``, ``webui``, ``commands``) call the office; they never reach the registers, the
  engines (``signer``, ``verifier``) or the pyHanko patch themselves;
- nothing below a door imports one;
- ``signer`` and ``verifier`` never import each other, the registers, the office or the dev PKI;
- the registers know nothing of the engines or the office;
- the kernel ``kyso`` imports nothing else of ours.

Every import counts, also those inside functions (a lazy import is still a dependency)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"api", "webui", "commands", "office", "registers", "signer", "verifier", "kyso", "hazmat", "devpki",
        "certs_dev"}
DOORS = {"api", "webui", "commands"}

# what each package may import of ours (besides itself)
ALLOWED = {
    "kyso": set(),
    "hazmat": set(),
    "signer": {"kyso"},
    "verifier": {"kyso"},
    "registers": {"kyso"},
    "devpki": {"kyso", "certs_dev"},
    "certs_dev": set(),
    "office": {"kyso", "hazmat", "signer", "verifier", "registers", "devpki", "certs_dev"},
    "webui": {"kyso", "office"},
    "api": {"kyso", "office", "webui"},
    # ``kyso serve`` runs the API's app; ``kyso dev-pki`` is the dev PKI's own command group, mounted;
    # the command line parses a box as the API does
    "commands": {"kyso", "office", "api", "webui", "devpki"},
}
# door to door: the API serves the web pages and shares their request schemas
DOOR_EXCEPTIONS = {("commands", "devpki.cli"), ("commands", "webui.schemas"), ("commands", "api"), ("api", "webui")}


def _package(path: Path) -> str:
    first = path.relative_to(ROOT).parts[0]
    return first.removesuffix(".py")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "tests", "bench", "build", "docs") or rel.parts[0].startswith("."):
            continue
        if _package(path) in OURS:
            yield path


def test_every_package_is_in_the_table():
    packages = {_package(p) for p in _sources()}
    assert packages == OURS, "a new top-level package needs its row in ALLOWED"


@pytest.mark.parametrize("package", sorted(OURS))
def test_imports_follow_the_layers(package):
    wrong = []
    for path in _sources():
        if _package(path) != package:
            continue
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top not in OURS or top == package:
                continue
            if top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif package in DOORS and top in ("devpki", "api", "webui") and package != top and \
                    not any(package == p and (module == m or module.startswith(m + ".")) for p, m in DOOR_EXCEPTIONS):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} (door exception not listed)")
    assert wrong == []


def test_the_scan_sees_lazy_imports(tmp_path):
    """The scan would catch a door reaching an engine inside a function (the check can fail)."""
    source = tmp_path / "door.py"
    source.write_text("def view():\n    from registers.numbering import DatabaseNumbering\n    return 1\n")
    assert [m for _, m in _imports(source)] == ["registers.numbering"]

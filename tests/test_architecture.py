"""The package's shape, checked: no import cycles, rooms that point one way, CLI modules that nothing imports.

Every ``import`` of a spikerec module in the source is an edge (also inside functions; not under
``if TYPE_CHECKING:``). ``from spikerec.x import y`` is an edge to ``spikerec.x.y`` when that is a module,
else to ``spikerec.x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "spikerec"

# Which rooms (top-level subpackages/modules of spikerec) each room may import. The flow points one way:
# data and neurons -> models -> training -> pruning / hardware -> demo; the base modules serve everyone.
BASE = {"errors", "io", "window", "lazy", "config", "kernel_cache"}
ALLOWED = {
    "errors": set(), "io": set(), "window": set(), "lazy": set(), "config": {"errors", "io"}, "kernel_cache": set(),
    "cli": {"errors"},
    "neurons": BASE,
    "delays": BASE,
    "datasets": BASE,
    "models": BASE | {"neurons", "delays"},
    "training": BASE | {"neurons", "delays", "datasets", "models"},
    "pruning": BASE | {"neurons", "delays", "datasets", "models", "training"},
    "hardware": BASE | {"neurons", "delays", "datasets", "models", "training"},
    "demo": BASE | {"neurons", "delays", "datasets", "models", "training", "pruning", "hardware"},
}


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.AST):
    """Import nodes outside ``if TYPE_CHECKING:`` blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip.update(id(n) for n in ast.walk(node))
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip]


def _import_graph(root: Path = ROOT) -> nx.DiGraph:
    modules = _modules(root)

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                target = resolve(target) if target.startswith("spikerec") else ""
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return _import_graph()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "spikerec"


def test_no_import_cycles(graph):
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_rooms_point_one_way(graph):
    wrong = sorted({(_room(a), _room(b), a, b) for a, b in graph.edges
                    if _room(a) != _room(b) and _room(a) != "spikerec" and _room(b) not in ALLOWED.get(_room(a), set())})
    assert not wrong, "imports against the layering:\n" + "\n".join(f"{a} -> {b}" for _, _, a, b in wrong)


def test_no_library_module_imports_a_command_line_module(graph):
    def is_cli(module: str) -> bool:
        return module == "spikerec.cli" or module.endswith(".cli")

    wrong = sorted((a, b) for a, b in graph.edges if is_cli(b) and not is_cli(a))
    assert not wrong, f"library modules importing CLI modules: {wrong}"


def test_the_checker_sees_a_cycle_and_a_wrong_direction(tmp_path):
    """The checks above can fail: a fake package with a cycle and an upward import is caught."""
    pkg = tmp_path / "spikerec"
    (pkg / "neurons").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "neurons" / "__init__.py").write_text("")
    (pkg / "neurons" / "a.py").write_text("from spikerec.neurons import b\n")
    (pkg / "neurons" / "b.py").write_text("def f():\n    from spikerec.neurons.a import x\n    import spikerec.hardware\n")
    (pkg / "hardware.py").write_text("")
    fake = _import_graph(pkg)
    assert list(nx.simple_cycles(fake)) and ("spikerec.neurons.b", "spikerec.hardware") in fake.edges
    assert "hardware" not in ALLOWED["neurons"]

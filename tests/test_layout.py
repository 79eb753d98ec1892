"""The house itself: the tree shows the flow, no import cycles, modules of one idea, every module tested."""

import ast
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "nnlab"
TESTS = ROOT / "tests"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The nnlab modules a file imports anywhere in it (function-level imports count: they are edges too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]  # a submodule, or a name in module
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `from nnlab.x import y`: y is a module or a name in x
                name = name.rpartition(".")[0]
            if name.startswith("nnlab"):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the nnlab modules it imports (a package's __init__ re-exporting its own modules is no edge back)."""
    return {name: imports_of(path) - {name} for name, path in MODULES.items()}


def folder_graph() -> dict[str, set[str]]:
    """nnlab.<folder> -> the other folders (and top-level modules) it imports from."""
    folders: dict[str, set[str]] = {}
    for name, targets in graph().items():
        top = ".".join(name.split(".")[:2])
        folders.setdefault(top, set()).update(".".join(t.split(".")[:2]) for t in targets)
    return {name: targets - {name, "nnlab"} for name, targets in folders.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_module_import_graph_has_no_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_the_folders_depend_on_each_other_without_a_cycle():
    """Each folder reads without its dependents: config -> data -> training -> ... -> cli, never back."""
    folders = folder_graph()
    assert find_cycle(folders) is None, " -> ".join(find_cycle(folders))
    leaves = {"nnlab.errors", "nnlab.limits", "nnlab.vocabulary"}  # top-level modules that import no other nnlab module
    assert all(not folders[leaf] for leaf in leaves)
    assert folders["nnlab.training"] <= {"nnlab.config", "nnlab.scoring", *leaves}
    assert not any("nnlab.cli" in targets for name, targets in folders.items() if name != "nnlab.__main__")


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports():
    assert "nnlab.training.loop" in graph()["nnlab.rundir.reproduce"]  # imported inside reproduce()


def test_few_modules_at_the_top_and_none_over_400_lines():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 8, top
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long


def test_every_module_has_its_tests():
    """A test file named for the module (tests/rundir/test_run.py for nnlab/rundir/run.py), or tests importing it;
    model kinds are covered by the contract test over the registry, commands by tests/cli/ through the app."""
    imported = set().union(*(imports_of(p) for p in TESTS.rglob("test_*.py")))

    def tested(name: str, path: Path) -> bool:
        own = TESTS.joinpath(*name.split(".")[1:-1], f"test_{path.stem}.py")
        return own.exists() or name in imported

    exempt = ("nnlab.models.", "nnlab.cli.")
    untested = sorted(name for name, path in MODULES.items()
                      if path.name not in ("__init__.py", "__main__.py") and not name.startswith(exempt)
                      and not tested(name, path))
    assert not untested, untested
    assert "REGISTRY" in (TESTS / "models" / "test_models.py").read_text()


def test_the_tests_mirror_the_package():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= {p.name for p in TESTS.iterdir() if p.is_dir()}, folders


def test_the_readme_lists_exactly_the_exit_codes_of_the_one_table():
    import re

    from nnlab.errors import EXIT_CODES

    section = (ROOT / "README.md").read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert [int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)] == sorted(EXIT_CODES)

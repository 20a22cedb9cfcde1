"""The core imports only the standard library and does no I/O at import time."""

import ast
import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "anthroxy"


def test_importing_anthroxy_loads_no_third_party_module() -> None:
    probe = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        "import anthroxy\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(anthroxy.__path__):\n"
        "    importlib.import_module('anthroxy.' + m.name)\n"
        "new = {n.split('.')[0] for n in set(sys.modules) - before}\n"
        "print(json.dumps(sorted(new)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(__import__("json").loads(out))
    foreign = {m for m in loaded if m not in sys.stdlib_module_names and m != "anthroxy"}
    assert not foreign, f"anthroxy pulled in third-party modules: {sorted(foreign)}"


FORBIDDEN_CALLS = {"open", "print", "input"}
FORBIDDEN_MODULES = {
    "os", "socket", "asyncio", "logging", "time", "random", "uuid", "subprocess", "pathlib",
    "urllib", "http", "ssl", "datetime", "secrets", "threading", "io",
}  # fmt: skip


def test_core_source_uses_no_io_modules_or_builtins() -> None:
    problems = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                names = []
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    problems.append(f"{path.name} imports {name}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FORBIDDEN_CALLS
            ):
                problems.append(f"{path.name}:{node.lineno} calls {node.func.id}()")
    assert not problems, problems

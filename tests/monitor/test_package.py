"""The package as the droplet runs it: Debian's python3 with the standard library
only, modules that import in one direction, one zip archive."""

from __future__ import annotations

import ast
import graphlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mc_monitor"
MODULES = sorted(PACKAGE.glob("*.py"))


def imported(path: Path) -> list[str]:
    """Every module the file imports (absolute imports only)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            found.append(node.module or "")
            if node.module == "mc_monitor":  # `from mc_monitor import web`
                found += [f"mc_monitor.{alias.name}" for alias in node.names]
    return found


def test_only_the_standard_library() -> None:
    """(So no Ansible, and nothing pip installs.)"""
    for path in MODULES:
        for name in imported(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "mc_monitor", (
                f"{path.name} imports {name}"
            )


def test_no_import_cycles() -> None:
    graph = {
        f"mc_monitor.{path.stem}": {
            name
            for name in imported(path)
            if (PACKAGE / f"{name.removeprefix('mc_monitor.')}.py").exists()
        }
        for path in MODULES
    }
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
    assert order[-1] in ("mc_monitor.__main__", "mc_monitor.cli")


def bare_python(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    """mc-monitor under `python3 -I -S`, as the role's wrapper runs it: no site-packages."""
    code = f"import sys; sys.path.insert(0, {path!r}); from mc_monitor.cli import main; "
    code += "sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True
    )


def test_python_m_runs_the_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mc_monitor", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "src",
    )
    assert proc.stdout.startswith("usage: mc-monitor")
    for command in ("run", "status", "test-alert", "check-config"):
        assert command in proc.stdout


def test_the_shipped_archive_runs_on_a_bare_python(make_config, tmp_path: Path) -> None:
    """Packed as the python_package role packs it."""
    packer = ROOT / "roles" / "python_package" / "files" / "pack-package.py"
    archive = Path(
        subprocess.run(
            [sys.executable, str(packer), "mc_monitor"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    try:
        with zipfile.ZipFile(archive) as zf:
            assert sorted(zf.namelist()) == [f"mc_monitor/{p.name}" for p in MODULES]
        config = str(make_config({"disk": {"paths": [str(tmp_path)], "max_percent": 100}}))
        proc = bare_python("check-config", config, path=str(archive))
        assert proc.returncode == 0, proc.stderr
        proc = bare_python("--config", config, "run", path=str(archive))
        assert (proc.returncode, proc.stdout) == (0, "all ok (1 checks)\n"), proc.stderr
        proc = bare_python("--config", config, "status", path=str(archive))
        assert proc.returncode == 0 and proc.stdout.startswith("all ok\n")
        bad = str(make_config({"disk": {"max_percent": 0}}, name="bad.json"))
        assert bare_python("check-config", bad, path=str(archive)).returncode == 2
    finally:
        shutil.rmtree(archive.parent)

"""The package as the droplet runs it: Debian's python3 with the standard library,
psycopg only where a database is used, and modules that import in one direction."""

from __future__ import annotations

import ast
import graphlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mc_backup"
MODULES = sorted(PACKAGE.glob("*.py"))


def imported(path: Path) -> list[tuple[str, ast.AST]]:
    """(module name, node) of every absolute import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            found.append((node.module or "", node))
            # `from mc_backup import database` imports a module
            if node.module == "mc_backup":
                found += [(f"mc_backup.{alias.name}", node) for alias in node.names]
    return found


def test_only_the_standard_library_and_psycopg() -> None:
    """(So no Ansible either.)"""
    for path in MODULES:
        for name, _ in imported(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("mc_backup", "psycopg"), (
                f"{path.name} imports {name}"
            )


def test_psycopg_is_imported_only_inside_the_functions_that_use_it() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level, outside `if TYPE_CHECKING:`
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] == "psycopg" for n in names), path.name


def test_no_import_cycles() -> None:
    graph = {}
    for path in MODULES:
        module = f"mc_backup.{path.stem}"
        graph[module] = {
            name
            for name, _ in imported(path)
            if name.startswith("mc_backup.")
            and (PACKAGE / f"{name.removeprefix('mc_backup.')}.py").exists()
        }
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
    assert order[-1] in ("mc_backup.__main__", "mc_backup.cli")


def without_site_packages(*args: str, path: str = str(ROOT / "src")) -> subprocess.CompletedProcess:
    """mc-backup under `python -I -S`: no site-packages, so no psycopg."""
    code = (
        f"import sys; sys.path.insert(0, {path!r}); "
        "from mc_backup.cli import main; sys.exit(main())"
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True
    )


def test_check_config_status_and_alerts_need_no_driver(make_config, tmp_path: Path) -> None:
    config = str(make_config())
    assert without_site_packages("check-config", config).returncode == 0
    assert without_site_packages("--config", config, "status").returncode == 0
    proc = without_site_packages("--config", config, "alert-unit", "mc-backup@x.service")
    assert proc.returncode == 0, proc.stderr
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert "mc-backup@x.service failed without reporting" in status["last_failure"]["error"]


def test_python_m_runs_the_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mc_backup", "--help"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("usage: mc-backup")


def pack() -> Path:
    """The archive the backup role copies to the droplet, made as the role makes it."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "roles" / "python_package" / "files" / "pack-package.py"),
            "mc_backup",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(out)


def test_the_shipped_archive_runs_on_a_bare_python(make_config, tmp_path: Path) -> None:
    archive = pack()
    try:
        with zipfile.ZipFile(archive) as zf:
            assert sorted(zf.namelist()) == [f"mc_backup/{p.name}" for p in MODULES]
        config = str(make_config())
        proc = without_site_packages("check-config", config, path=str(archive))
        assert proc.returncode == 0, proc.stderr
        proc = without_site_packages("--config", config, "status", path=str(archive))
        assert proc.returncode == 0 and "last backup" in proc.stdout
        bad = str(make_config("bad.json", keep_hourly=0))
        assert without_site_packages("check-config", bad, path=str(archive)).returncode == 2
        # the same package is the same bytes: the role's copy is idempotent
        again = pack()
        assert again.read_bytes() == archive.read_bytes()
        shutil.rmtree(again.parent)
    finally:
        shutil.rmtree(archive.parent)

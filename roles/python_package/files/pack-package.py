"""Pack a package of this project into one zip archive, the same bytes every time.

Usage: pack-package.py PACKAGE (mc_migrate, mc_backup), run by the controller's
Python: the package as that Python imports it (this project's `pip install -e .`).
Prints the archive's path (in a new temporary folder that the caller removes).
Only the package's modules (*.py) go in, sorted, with a fixed timestamp and mode
and no compression, so the archive depends on their content alone (not on file
times, the order of the folder or zlib): a role copies it to a host, and an
unchanged package is an unchanged archive. Python imports from it when it is on
sys.path.
"""

import importlib.util
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

name = sys.argv[1]
spec = importlib.util.find_spec(name)
if spec is None or not spec.submodule_search_locations:
    sys.exit(
        f"the {name} package is not installed in the controller's Python ({sys.executable}): "
        "run `pip install -e .` in this project's virtual environment"
    )
src = Path(next(iter(spec.submodule_search_locations)))
modules = sorted(p for p in src.glob("*.py") if p.is_file())
tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
out = tmp / f"{name}.zip"
try:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in modules:
            info = zipfile.ZipInfo(f"{name}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            zf.writestr(info, path.read_bytes())
except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
print(out)

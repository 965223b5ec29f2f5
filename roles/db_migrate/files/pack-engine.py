"""Pack the mc_migrate package into one zip archive, the same bytes every time.

Usage: pack-engine.py SOURCE_DIR. Prints the archive's path (in a new temporary
folder that the caller removes). Only the package's modules (*.py) go in, sorted,
with a fixed timestamp and mode and no compression, so the archive depends on
their content alone (not on file times, the order of the folder or zlib).
"""

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

src = Path(sys.argv[1])
modules = sorted(p for p in src.glob("*.py") if p.is_file())
if not any(p.name == "__init__.py" for p in modules):
    sys.exit(f"{src} holds no mc_migrate package (no __init__.py)")
tmp = Path(tempfile.mkdtemp(prefix="mc-migrate-engine-"))
out = tmp / "mc_migrate.zip"
try:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in modules:
            info = zipfile.ZipInfo(f"mc_migrate/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            zf.writestr(info, path.read_bytes())
except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
print(out)

"""Each chapter notebook of nbs/ is one pytest case, run by nbdev's own test runner in a fresh Python process.

`nbdev.test.test_nb` honours `#| eval: false`, `#| hide` and the `tst_flags` of settings.ini; cells flagged `slow`
run only when the environment variable PRUNEBOOK_SLOW=1 is set. Each chapter runs in its own process, as
`nbdev_test` runs them: `test_nb` executes a notebook inside the calling process, so a chapter's exported cells
(which redefine classes and re-register model builders in prunebook's shared registries) would otherwise leak into
the chapters run after it. A failing notebook fails its case with the offending cell's traceback.
"""
import os, subprocess, sys
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [nb for nb in sorted((ROOT / "nbs").glob("*.ipynb")) if not nb.name.startswith(("_", "."))]
_cfg = ConfigParser(delimiters=["="]); _cfg.read(ROOT / "settings.ini")
TST_FLAGS = _cfg["DEFAULT"]["tst_flags"].split()
SLOW = os.environ.get("PRUNEBOOK_SLOW") == "1"
SKIP_FLAGS = [f for f in TST_FLAGS if not (SLOW and f == "slow")]

_RUN = """
import sys
from pathlib import Path
import nbdev.test as t
passed, seconds = t.test_nb(Path(sys.argv[1]), skip_flags=sys.argv[3:], basepath=Path(sys.argv[2]))
print(f"{seconds:.1f}")
sys.exit(0 if passed else 1)
"""


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda nb: nb.stem)
def test_chapter_notebook(nb):
    p = subprocess.run([sys.executable, "-c", _RUN, str(nb), str(ROOT), *SKIP_FLAGS], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, f"{nb.name} failed:\n{p.stderr[-6000:]}\n{p.stdout[-2000:]}"

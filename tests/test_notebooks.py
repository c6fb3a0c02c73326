"""Each chapter notebook of nbs/ is one pytest case, run by nbdev's own test runner.

`nbdev.test.test_nb` honours `#| eval: false`, `#| hide` and the `tst_flags` of settings.ini; cells flagged `slow`
run only when the environment variable PRUNEBOOK_SLOW=1 is set. A failing notebook fails its case and the
offending cell's traceback is printed to stderr (shown by pytest).
"""
import os
from configparser import ConfigParser
from pathlib import Path

import pytest
import nbdev.test as nbdev_testing  # import the module: a module-level `test_nb` would be collected by pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [nb for nb in sorted((ROOT / "nbs").glob("*.ipynb")) if not nb.name.startswith(("_", "."))]
_cfg = ConfigParser(delimiters=["="]); _cfg.read(ROOT / "settings.ini")
TST_FLAGS = _cfg["DEFAULT"]["tst_flags"].split()
SLOW = os.environ.get("PRUNEBOOK_SLOW") == "1"
SKIP_FLAGS = [f for f in TST_FLAGS if not (SLOW and f == "slow")]


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda nb: nb.stem)
def test_chapter_notebook(nb):
    passed, seconds = nbdev_testing.test_nb(nb, skip_flags=SKIP_FLAGS, basepath=ROOT)
    assert passed, f"{nb.name} failed after {seconds:.1f} s: see the traceback above"

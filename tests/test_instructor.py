"""The instructor notebook (worked solutions to the chapters' exercises) runs top to bottom, as a chapter does.

It is not part of the book and nothing in it is exported; like each chapter in tests/test_notebooks.py it runs in a
fresh Python process through nbdev's own runner (`nbdev.test.test_nb`), honouring the `tst_flags` of settings.ini.
"""
import os, subprocess, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "instructor" / "solutions.ipynb"
_cfg = ConfigParser(delimiters=["="]); _cfg.read(ROOT / "settings.ini")
SKIP_FLAGS = [f for f in _cfg["DEFAULT"]["tst_flags"].split() if not (os.environ.get("PRUNEBOOK_SLOW") == "1" and f == "slow")]

_RUN = """
import sys
from pathlib import Path
import nbdev.test as t
passed, seconds = t.test_nb(Path(sys.argv[1]), skip_flags=sys.argv[3:], basepath=Path(sys.argv[2]))
print(f"{seconds:.1f}")
sys.exit(0 if passed else 1)
"""


def test_instructor_solutions():
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    p = subprocess.run([sys.executable, "-c", _RUN, str(NB), str(ROOT), *SKIP_FLAGS], cwd=ROOT, capture_output=True, text=True, env=env)
    assert p.returncode == 0, f"{NB.name} failed:\n{p.stderr[-6000:]}\n{p.stdout[-2000:]}"

"""Fail if `nbdev_clean` or `nbdev_export` would change the repository.

Notebooks in nbs/ are the source of prunebook/: an exported module edited by hand, a notebook changed without
re-exporting, or a notebook committed without `nbdev_clean` makes this exit 1 and name the files.
Works without git: it compares file hashes before and after running the two commands.
"""
import hashlib, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WATCHED = [("nbs", "*.ipynb"), ("prunebook", "**/*.py"), (".", "pyproject.toml")]


def snapshot():
    files = {}
    for folder, pattern in WATCHED:
        for p in sorted((ROOT / folder).glob(pattern)):
            if p.is_file() and "__pycache__" not in p.parts:
                files[str(p.relative_to(ROOT))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def main():
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}  # nbdev_export is a no-op under IN_TEST
    before = snapshot()
    for cmd in ("nbdev_clean", "nbdev_export"):
        subprocess.run([str(BIN / cmd)], cwd=ROOT, env=env, check=True)
    after = snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        print("Out of sync: nbdev_clean/nbdev_export changed these files (commit the regenerated versions;"
              " never edit prunebook/*.py by hand):", *("  " + c for c in changed), sep="\n")
        return 1
    print(f"In sync: {len(after)} notebooks and modules unchanged by nbdev_clean and nbdev_export.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of the fast book: every chapter executed in a fresh kernel, as `make book` and CI run them (no `slow` cells).

    python benchmarks/bench_book.py [NB ...]

Runs the chapters one after another (not in parallel, so the figures do not depend on the number of cores) and
prints each chapter's wall time and the total. Outputs are discarded; nothing in nbs/ changes.
"""
import sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import build_book


def main():
    nbs = [Path(p) for p in sys.argv[1:]] or build_book.chapters()
    times = {}
    t0 = time.time()
    for nb in nbs:
        t = time.time()
        _, _, error = build_book.execute(nb)
        times[nb.name] = time.time() - t
        print(f"{nb.name}: {times[nb.name]:.1f} s" + (" FAILED" if error else ""), flush=True)
        if error: sys.exit(f"{nb.name} failed:\n{error[-2000:]}")
    total = time.time() - t0
    print(f"\nfast book, {len(nbs)} chapters run one after another: {total:.0f} s ({total / 60:.1f} min)")
    slowest = max(times, key=times.get)
    print(f"slowest chapter: {slowest} ({times[slowest]:.0f} s, {times[slowest] / total:.0%} of the total)")


if __name__ == "__main__":
    main()

"""Time prunebook.submodular.greedy_select on the chapter's fixed synthetic layers (one thread, float64).

    python benchmarks/bench_greedy.py [--repeats 3]
"""
import argparse, time

import torch

from prunebook.submodular import greedy_select

CASES = [("linear: 512 channels, 4096 rows, keep 256, 256 outputs", 512, 1, 4096, 256, 256),
         ("conv: 64 channels x 3x3, 4096 rows, keep 32, 64 outputs", 64, 9, 4096, 32, 64)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, n, g, rows, k, d in CASES:
        gen = torch.Generator().manual_seed(0)
        B = torch.randn(rows, n * g, generator=gen); W = torch.randn(d, n * g, generator=gen)
        ts = []
        for _ in range(args.repeats):
            t = time.perf_counter(); greedy_select(B, B, W, k, g); ts.append(time.perf_counter() - t)
        print(f"{name}: median {sorted(ts)[len(ts) // 2]:.3f} s over {args.repeats} runs")


if __name__ == "__main__":
    main()

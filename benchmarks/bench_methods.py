"""Each method's pruning time and its pruned model's measured CPU speed-up against its MAC ratio, in one run.

    python benchmarks/bench_methods.py [--fraction 0.5] [--epochs 3] [--repeats 30] [--models a,b] [--methods x,y] [--keep-streams]

For every standard zoo model and every method that applies, prune at the comparison chapter's matched budget
(`prunebook.compare.matched_options`), then time the original and the pruned model on the CPU (one thread, warm-up,
median of `--repeats` forward passes) at batch sizes 1, 32 and 256. Prints one row per (model, method): pruning time,
parameter and MAC ratios, measured speed-up per batch size, and speed-up / MAC ratio (1 = the MAC count predicts the
speed-up; below 1 = it overstates it). `--keep-streams` passes `coupled=False`: residual streams keep their width and
only the other groups are pruned. Run it on an otherwise idle machine.
"""
import argparse, time

import torch

from prunebook.api import prune, METHODS
from prunebook.compare import matched_options, NotApplicable, MODELS, COMPARED
from prunebook.submodular import pruning_pairs
from prunebook.core import Table, speedup_table
from prunebook.data import load_mnist5k, unlabeled_subset
from prunebook.models import pretrained

BATCHES = (1, 32, 256)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs of the prune-train methods")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--methods", default=",".join(COMPARED))
    ap.add_argument("--keep-streams", action="store_true", help="coupled=False: residual streams keep their width")
    args = ap.parse_args()
    torch.set_num_threads(1)
    train, _ = load_mnist5k()
    rows = []
    for name in args.models.split(","):
        model = pretrained(name)
        for method in args.methods.split(","):
            m = METHODS[method]
            try: opts = matched_options(method, model, args.fraction)
            except NotApplicable: continue
            if args.keep_streams and "coupled" in m.options:
                opts["coupled"] = False
                if "per_layer" in opts:       # the groups of the streams-whole pruning
                    opts["per_layer"] = {p.layer: 1 - args.fraction for p in pruning_pairs(model, coupled=False)}
            data = {"none": None, "unlabeled": unlabeled_subset(train, 512, seed=0), "labelled": train}[m.data]
            if m.data == "labelled": opts.update(epochs=args.epochs, pretrained=True)
            small, rep = prune(model, method, data, latency=None, **opts)
            lat = {r["batch"]: r["speedup"] for r in speedup_table(model, small, model.input_shape, BATCHES, repeats=args.repeats)}
            rows.append(dict(model=name, method=method, prune_s=rep.seconds, param_ratio=rep.compression, mac_ratio=rep.mac_ratio,
                             **{f"speedup@{b}": lat[b] for b in BATCHES},
                             **{f"speedup/mac@{b}": lat[b] / rep.mac_ratio for b in (1, 256)}))
            print(f"{name} {method}: {rep.seconds:.2f} s", flush=True)
    print(f"\nfraction {args.fraction}, prune-train epochs {args.epochs}, {args.repeats} timed passes per batch size, one thread"
          + (", residual streams kept whole" if args.keep_streams else "") + "\n")
    print(Table(rows))


if __name__ == "__main__":
    main()

"""Run under `torchrun --nproc_per_node N` by tests/test_distributed.py (gloo, CPU, loopback): one task per call.

Each rank writes what it computed to OUT/<task>-rank<r>.pt; the test compares the ranks with each other, with a rerun
and with one process. Usage: ddp_worker.py TASK OUT
"""
import hashlib, sys, time
from pathlib import Path

import torch

torch.set_num_threads(1)

from prunebook.distributed import init_from_env, world, all_reduce_sum, shard_rows, shutdown


def digest(model):
    h = hashlib.sha256()
    for k, v in model.state_dict().items(): h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(task, out):
    from prunebook.models import pretrained, train
    from prunebook.data import load_mnist5k, unlabeled_subset
    init_from_env()
    rank, size = world()
    train_ds, _ = load_mnist5k()
    t0 = time.time()
    res = dict(rank=rank, world=size)
    if task == "stats":          # the submodular statistics of LeNet-5's first Linear layer, float64, summed over ranks
        from prunebook.submodular import next_inputs, next_weight, gram_stats, pruning_pairs, submodular_prune
        model = pretrained("lenet5-mnist5k")
        X = unlabeled_subset(train_ds, 512, seed=0)
        p = pruning_pairs(model)[2]
        B = next_inputs(model, shard_rows(X), p.next)
        G, H, t = (all_reduce_sum(s) for s in gram_stats(B, B, next_weight(model, p.next)))
        small, rep = submodular_prune(model, X, compression=4)
        res.update(G=G, H=H, t0=t, rows=len(B), kept=rep.kept, digest=digest(small), data=rep.data)
    elif task == "train":        # fine-tuning with DDP: the weights stay identical on every rank
        model = pretrained("lenet5-mnist5k")
        sub = torch.utils.data.TensorDataset(*(t[:1024] for t in train_ds.tensors))
        hist = train(model, sub, epochs=1, lr=1e-3, batch_size=64, seed=0, progress=False)
        res.update(digest=digest(model), history=hist)
    elif task in ("fpgm", "psap"):
        import prunebook
        model = pretrained("lenet5-mnist5k")
        sub = torch.utils.data.TensorDataset(*(t[:1024] for t in train_ds.tensors))
        small, rep = prunebook.prune(model, task, sub, target=0.5, epochs=2, pretrained=True, latency=None)
        masks = [{n: sorted(v) for n, v in s.get("zeroed_idx", {}).items()} for s in rep.logs["steps"]] if "steps" in rep.logs else []
        res.update(digest=digest(small), kept=rep.kept, steps=[{k: s[k] for k in ("epoch", "zeroed", "ratio") if k in s} for s in rep.logs["steps"]],
                   history=rep.logs["history"])
    else: raise SystemExit(f"unknown task {task!r}")
    res["seconds"] = time.time() - t0
    Path(out).mkdir(parents=True, exist_ok=True)
    torch.save(res, Path(out) / f"{task}-rank{rank}.pt")
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Run the authors' released Paoding toolkit (`paoding-dl` 1.0.0.post3, TensorFlow/Keras) on networks given as files.

Run with the python of `.venv-parity` (see `make test-parity`), never with prunebook's environment:

    .venv-parity/bin/python tools/parity/toolkit_run.py CASES.json

CASES.json holds one case or a list of cases. Each case names its network and what to do with it:

    name            a label
    npz             weights in PyTorch layout: W0, b0, W1, b1, ... (W_j has shape (out, in)) for the Linear layers in order
    out             output prefix: writes OUT.json (the log) and OUT.npz (final and per-step weights)
    activations     one of "relu" / "sigmoid" per hidden Linear layer
    between         optional, per hidden Linear layer: a list of "dropout" / "batchnorm" layers placed after its activation
    dtype           "float32" or "float64"
    mode            "baseline", "impact" or "stochastic"
    step, target    fractions, as given to the toolkit's Pruner
    input_interval  [lo, hi]
    alpha, beta     the Sampler's params (impact and stochastic)
    recursive       the Sampler's recursive_pruning
    seed            seeds Python's `random` (the toolkit's annealing draws) and the Pruner's seed_val

The toolkit is driven through its public classes (`Sampler.set_strategy`, `Pruner.prune_fc`); the Keras model is
handed to the Pruner directly instead of being saved and re-loaded. Nothing in the installed package is edited. At
run time this script only observes it:

  * each call of `Sampler.nominate` is one step of the Pruner's loop; its returned `pruned_pairs` is what the toolkit
    records for the step ("recorded"), and the model's weights are copied after it;
  * the pairs actually merged in each layer ("merged") are read when a pruning routine writes the next layer's weights
    (`Layer.set_weights`, called once per pruned layer): the routine's local list of confirmed pairs is read from the
    caller's frame. They differ from "recorded" when the routine returns early and drops the step's pairs;
  * the annealing draws are logged by giving `paoding.utility.pruning` a proxy for the `random` module that forwards
    every call to the real, seeded module.
"""
from __future__ import annotations
import json, os, random, sys, tempfile, time, traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import tensorflow as tf

tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)

from paoding.pruner import Pruner
from paoding.sampler import Sampler
from paoding.utility.option import SamplingMode, ModelType
import paoding.utility.pruning as tk_pruning

MODES = dict(baseline=SamplingMode.BASELINE, impact=SamplingMode.IMPACT, stochastic=SamplingMode.STOCHASTIC)
ROUTINES = {"pruning_baseline": "pruning_pairs_curr_layer_baseline",
            "pruning_impact_based": "pruning_pairs_curr_layer_confirmed",
            "pruning_stochastic": "pruning_pairs_curr_layer_confirmed"}


def build_model(case, params):
    "The Keras model equivalent to the torch chain Linear, act, [Dropout/BatchNorm], ..., Linear (names must contain 'dense')."
    dtype = case["dtype"]
    n_lin = len([k for k in params if k.startswith("W")])
    acts = case["activations"]
    between = case.get("between") or [[] for _ in acts]
    if len(acts) != n_lin - 1: raise ValueError(f"{case['name']}: {n_lin} Linear layers need {n_lin - 1} activations")
    n_in = params["W0"].shape[1]
    layers = [tf.keras.Input(shape=(n_in,), dtype=dtype)]
    dense = []
    for j in range(n_lin):
        out = params[f"W{j}"].shape[0]
        d = tf.keras.layers.Dense(out, activation=acts[j] if j < n_lin - 1 else None, name=f"dense_{j}", dtype=dtype)
        layers.append(d); dense.append(d)
        if j < n_lin - 1:
            for i, kind in enumerate(between[j]):
                if kind == "dropout": layers.append(tf.keras.layers.Dropout(0.5, name=f"dropout_{j}_{i}", dtype=dtype))
                elif kind == "batchnorm": layers.append(tf.keras.layers.BatchNormalization(name=f"batch_normalization_{j}_{i}", dtype=dtype))
                else: raise ValueError(f"between: unknown layer {kind!r}")
    model = tf.keras.Sequential(layers)
    for j, d in enumerate(dense):
        d.set_weights([params[f"W{j}"].T.astype(dtype), params[f"b{j}"].astype(dtype)])
    return model, [model.layers.index(d) for d in dense]


class _RandomProxy:
    "Stands in for the `random` module inside the toolkit's pruning module; forwards to the real one and logs `random()`."
    def __init__(self, log): self._log = log
    def random(self):
        x = random.random(); self._log.append(x); return x
    def __getattr__(self, name): return getattr(random, name)


def run_case(case):
    params = dict(np.load(case["npz"]))
    model, dense_idx = build_model(case, params)
    hidden_idx = dense_idx[:-1]
    calls, merged_now, draws_now = [], {}, []

    real_set_weights = tf.keras.layers.Layer.set_weights

    def set_weights(layer, weights):
        caller = sys._getframe(1)
        local = ROUTINES.get(caller.f_code.co_name)
        if local is not None and local in caller.f_locals:
            li = int(caller.f_locals["layer_idx"])
            merged_now[li] = [(int(a), int(b)) for a, b in caller.f_locals[local]]
        return real_set_weights(layer, weights)

    sampler = Sampler()
    if case["mode"] == "baseline":
        sampler.mode = SamplingMode.BASELINE
        sampler.recursive_pruning = bool(case["recursive"])
    else:
        sampler.set_strategy(mode=MODES[case["mode"]], params=(case["alpha"], case["beta"]), recursive_pruning=bool(case["recursive"]))
    real_nominate = sampler.nominate
    snapshots = {}

    def nominate(*args, **kw):
        merged_now.clear(); draws_now.clear()
        res = real_nominate(*args, **kw)
        rec = res["pruned_pairs"] or []
        s = len(calls)
        calls.append(dict(
            recorded=[[(int(a), int(b)) for a, b in rec[li]] if li < len(rec) else [] for li in hidden_idx],
            merged=[merged_now.get(li, []) for li in hidden_idx],
            draws=list(draws_now),
            returned_empty=len(rec) == 0))
        for j, li in enumerate(dense_idx):
            snapshots[f"s{s}_W{j}"] = res["model"].layers[li].get_weights()[0].T.copy()
        return res

    sampler.nominate = nominate
    seed = int(case.get("seed", 0))
    lo, hi = case["input_interval"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)                      # the Pruner writes its tape under ./paoding/logs/
        tf.keras.layers.Layer.set_weights = set_weights
        tk_pruning.random = _RandomProxy(draws_now)
        t0 = time.time()
        try:
            pruner = Pruner(os.path.join(tmp, "model"), test_set=None, target=case["target"], step=case["step"],
                            sample_strategy=sampler, input_interval=(lo, hi), model_type=ModelType.OTHER, seed_val=seed)
            pruner.model = model
            pruner.optimizer, pruner.loss = tf.keras.optimizers.Adam(learning_rate=0.001), tf.keras.losses.MeanSquaredError()
            random.seed(seed)
            pruner.prune_fc(evaluator=None, save_file=False, pruned_model_path=os.path.join(tmp, "pruned"), verbose=0)
            error = None
        except Exception:
            error = traceback.format_exc()
        finally:
            seconds = time.time() - t0
            tf.keras.layers.Layer.set_weights = real_set_weights
            tk_pruning.random = random
            os.chdir(cwd)
    final = {}
    for j, li in enumerate(dense_idx):
        W, b = pruner.model.layers[li].get_weights()[:2] if error is None else model.layers[li].get_weights()[:2]
        final[f"W{j}"], final[f"b{j}"] = W.T.copy(), b.copy()
    np.savez(case["out"] + ".npz", **final, **snapshots)
    log = dict(name=case["name"], steps=calls, seconds=seconds, error=error,
               versions=dict(paoding=__import__("paoding").__version__, tensorflow=tf.__version__, numpy=np.__version__,
                             pandas=__import__("pandas").__version__))
    Path(case["out"] + ".json").write_text(json.dumps(log, indent=1))
    return log


def main(argv):
    if len(argv) != 2: raise SystemExit(__doc__)
    cases = json.loads(Path(argv[1]).read_text())
    if isinstance(cases, dict): cases = [cases]
    real_stdout = sys.stdout
    for case in cases:
        sys.stdout = open(os.devnull, "w")         # the toolkit prints a banner, progress bars and model summaries
        try: log = run_case(case)
        finally: sys.stdout.close(); sys.stdout = real_stdout
        status = "error" if log["error"] else f"{len(log['steps'])} calls"
        print(f"toolkit {case['name']}: {status} in {log['seconds']:.2f} s", flush=True)
        if log["error"]: print(log["error"], file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)

"""Bad inputs to `save_pruned` / `load_pruned`: each fails with one line that starts with the argument at fault, before
anything is written, leaves an existing file at the target byte for byte as it was, and leaves a model passed in unchanged.
The good rows check what must keep working: numpy values in `meta`, tensors in `meta`, exact round trips."""
import os, sys
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import pytest
import torch
import torch.nn as nn

torch.set_num_threads(1)

from prunebook import core
from prunebook.core import load_pruned, save_pruned
from prunebook.models import lenet5, mlp


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, core._shapes(model)


def _same(model, snap):
    sd, shapes = snap
    now = model.state_dict()
    return core._shapes(model) == shapes and now.keys() == sd.keys() and all(
        now[k].shape == v.shape and now[k].dtype == v.dtype and torch.equal(now[k], v) for k, v in sd.items())


@pytest.fixture
def ctx(tmp_path):
    torch.manual_seed(0)
    c = SimpleNamespace(tmp=tmp_path)
    c.model = core.remove_units(mlp((20, 8, 4), input_shape=(20,)), "1", [0, 2, 3, 5, 7])   # a pruned model to save
    c.good = save_pruned(c.model, tmp_path / "good.pt", note="keep me")                     # the file the user cares about
    c.conv = save_pruned(lenet5(), tmp_path / "lenet.pt")
    c.victim = mlp((20, 8, 4), input_shape=(20,))                                           # a model passed to load_pruned
    (tmp_path / "afile").write_text("not a folder")
    return c


def _write(c, name, state):
    "A file saved by hand: what `save_pruned` would write for `c.model`, edited by `state`."
    d = torch.load(c.good, weights_only=True)
    state(d)
    torch.save(d, c.tmp / name)
    return c.tmp / name


def _drop(key): return lambda d: d.pop(key)


def _bad_shape(d): d["state_dict"]["1.weight"] = torch.zeros(6, 20)


def _partial_write(exc):
    def fake_save(obj, f, *args, **kwargs):
        f.write(b"half a model")
        raise exc
    return fake_save


def _save_failing(c, exc, monkeypatch):
    monkeypatch.setattr(torch, "save", _partial_write(exc))
    return save_pruned(c.model, c.good, note="second try")


def _self_containing():
    x = [1]
    x.append(x)
    return x


def _with_arch(arch):
    m = mlp((20, 8, 4), input_shape=(20,))
    m.arch = arch
    return m


def _with_input_shape(shape):
    m = mlp((20, 8, 4), input_shape=(20,))
    m.input_shape = shape
    return m


def _no_bias_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 4, bias=False))


# ---- the good rows: each returns nothing and checks itself
def _numpy_meta_round_trip(c):
    meta = dict(acc=np.float32(0.5), n=np.int64(7), flag=np.bool_(True), counts=np.arange(3), grid=np.eye(2),
                nested={"a": [np.int8(3), (np.float64(1.5),)]}, name=np.str_("mlp"))
    p = save_pruned(c.model, c.tmp / "np.pt", **meta)
    raw = torch.load(p, weights_only=True)["meta"]
    want = dict(acc=0.5, n=7, flag=True, counts=[0, 1, 2], grid=[[1.0, 0.0], [0.0, 1.0]], nested={"a": [3, (1.5,)]}, name="mlp")
    assert raw == want and load_pruned(p).meta == want
    assert [type(raw[k]) for k in ("acc", "n", "flag", "name")] == [float, int, bool, str]
    assert type(raw["counts"][0]) is int and type(raw["nested"]["a"][1][0]) is float


def _tensor_and_plain_meta(c):
    meta = dict(mask=torch.tensor([1, 0, 1]), dtype=torch.float16, size=torch.Size([2, 3]), none=None, tags={"a", "b"},
                opts={"lr": 0.1, "steps": (1, 2), 3: b"x"})
    back = load_pruned(save_pruned(c.model, c.tmp / "t.pt", **meta)).meta
    assert torch.equal(back.pop("mask"), meta.pop("mask")) and back == meta


def _round_trip_exact(c):
    back = load_pruned(save_pruned(c.model, c.tmp / "rt.pt", note="x"))
    x = torch.rand(3, 20)
    assert torch.equal(back(x), c.model.eval()(x)) and back.meta == {"note": "x"}
    assert back.arch == c.model.arch and back.input_shape == (20,) and core._shapes(back) == core._shapes(c.model)
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), c.model.state_dict().values()))


def _overwrite_keeps_mode(c):
    os.chmod(c.tmp / "lenet.pt", 0o640)
    before = (c.tmp / "lenet.pt").read_bytes()
    save_pruned(c.model, c.tmp / "lenet.pt")
    assert (c.tmp / "lenet.pt").stat().st_mode & 0o777 == 0o640 and (c.tmp / "lenet.pt").read_bytes() != before
    assert load_pruned(c.tmp / "lenet.pt").arch["name"] == "mlp"


def _save_through_symlink(c):
    (c.tmp / "link.pt").symlink_to(c.tmp / "lenet.pt")
    save_pruned(c.model, c.tmp / "link.pt")
    assert (c.tmp / "link.pt").is_symlink() and load_pruned(c.tmp / "lenet.pt").arch["name"] == "mlp"


def _load_into_given_model(c):
    m = mlp((20, 8, 4), input_shape=(20,))
    back = load_pruned(c.good, model=m)
    x = torch.rand(3, 20)
    assert back is m and torch.equal(back(x), c.model.eval()(x))


def _creates_missing_folders(c):
    p = save_pruned(c.model, c.tmp / "new" / "sub" / "m.pt")
    assert load_pruned(p).meta == {}


ROWS = [
    # (id, callable(ctx, monkeypatch), expected exception (None: must succeed), substring of the message)
    # model: not a module
    ("save model None", lambda c, mp: save_pruned(None, c.good), TypeError, "model: expected a torch.nn.Module"),
    ("save model is a state_dict", lambda c, mp: save_pruned(c.model.state_dict(), c.good), TypeError, "got OrderedDict"),
    ("save model is a name", lambda c, mp: save_pruned("mlp", c.good), TypeError, "got str"),
    ("save model arch holds a function", lambda c, mp: save_pruned(_with_arch({"name": "x", "kwargs": {"f": print}}), c.good),
     TypeError, "model: 'arch'['kwargs']['f']"),
    ("save model input_shape not ints", lambda c, mp: save_pruned(_with_input_shape(("a",)), c.good), TypeError, "model: input_shape"),
    # path
    ("save path None", lambda c, mp: save_pruned(c.model, None), TypeError, "path: expected a file path"),
    ("save path int", lambda c, mp: save_pruned(c.model, 3), TypeError, "got int"),
    ("save path bytes", lambda c, mp: save_pruned(c.model, b"m.pt"), TypeError, "got bytes"),
    ("save path empty", lambda c, mp: save_pruned(c.model, ""), ValueError, "path: is empty"),
    ("save path is a directory", lambda c, mp: save_pruned(c.model, c.tmp), IsADirectoryError, "is a directory"),
    ("save path ends with a separator", lambda c, mp: save_pruned(c.model, str(c.tmp / "new") + os.sep), IsADirectoryError, "separator"),
    ("save parent is a file", lambda c, mp: save_pruned(c.model, c.tmp / "afile" / "m.pt"), NotADirectoryError, "is a file, not a folder"),
    ("save grandparent is a file", lambda c, mp: save_pruned(c.model, c.good / "a" / "m.pt"), NotADirectoryError, "is a file, not a folder"),
    # meta that cannot be stored
    ("meta lambda", lambda c, mp: save_pruned(c.model, c.good, fn=lambda w: w), TypeError, "meta: 'fn' is a builtins.function"),
    ("meta open file", lambda c, mp: save_pruned(c.model, c.good, fh=open(c.tmp / "afile")), TypeError, "meta: 'fh'"),
    ("meta module", lambda c, mp: save_pruned(c.model, c.good, mod=sys), TypeError, "meta: 'mod' is a builtins.module"),
    ("meta nn.Module", lambda c, mp: save_pruned(c.model, c.good, layer=nn.Linear(2, 2)), TypeError, "meta: 'layer'"),
    ("meta object", lambda c, mp: save_pruned(c.model, c.good, o=object()), TypeError, "meta: 'o'"),
    ("meta lambda in a list", lambda c, mp: save_pruned(c.model, c.good, opts=[1, lambda: 0]), TypeError, "meta: 'opts'[1]"),
    ("meta function in a dict", lambda c, mp: save_pruned(c.model, c.good, opts={"f": print}), TypeError, "meta: 'opts'['f']"),
    ("meta numpy object array", lambda c, mp: save_pruned(c.model, c.good, arr=np.array([1, print], dtype=object)), TypeError, "meta: 'arr'[1]"),
    ("meta range", lambda c, mp: save_pruned(c.model, c.good, r=range(3)), TypeError, "meta: 'r' is a builtins.range"),
    ("meta frozenset", lambda c, mp: save_pruned(c.model, c.good, s=frozenset([1])), TypeError, "meta: 's'"),
    ("meta contains itself", lambda c, mp: save_pruned(c.model, c.good, loop=_self_containing()), TypeError, "contains itself"),
    # a write that fails halfway
    ("save disk full halfway", lambda c, mp: _save_failing(c, OSError(28, "No space left on device"), mp), OSError, "path: cannot write"),
    ("save torch writer fails halfway", lambda c, mp: _save_failing(c, RuntimeError("PytorchStreamWriter failed\nmore"), mp),
     OSError, "PytorchStreamWriter failed"),
    # load: path
    ("load path None", lambda c, mp: load_pruned(None), TypeError, "path: expected a file path"),
    ("load path int", lambda c, mp: load_pruned(42), TypeError, "got int"),
    ("load path is a directory", lambda c, mp: load_pruned(c.tmp), IsADirectoryError, "is a directory"),
    ("load missing file", lambda c, mp: load_pruned(c.tmp / "missing.pt"), FileNotFoundError, "no such file"),
    ("load parent is a file", lambda c, mp: load_pruned(c.tmp / "afile" / "m.pt"), NotADirectoryError, "is a file, not a folder"),
    ("load junk bytes", lambda c, mp: load_pruned((c.tmp / "afile")), ValueError, "not a model saved by prunebook"),
    ("load truncated file", lambda c, mp: (c.tmp / "cut.pt").write_bytes(c.good.read_bytes()[:300]) and load_pruned(c.tmp / "cut.pt"),
     ValueError, "torch.load failed"),
    ("load another torch file", lambda c, mp: torch.save({"a": 1}, c.tmp / "o.pt") or load_pruned(c.tmp / "o.pt"),
     ValueError, "not a model saved by prunebook.save_pruned"),
    # load: a prunebook file with parts missing or inconsistent
    ("load file lacks arch", lambda c, mp: load_pruned(_write(c, "x.pt", _drop("arch"))), ValueError, "it has no 'arch'"),
    ("load file lacks shapes", lambda c, mp: load_pruned(_write(c, "x.pt", _drop("shapes"))), ValueError, "it has no 'shapes'"),
    ("load file lacks state_dict", lambda c, mp: load_pruned(_write(c, "x.pt", _drop("state_dict")), model=c.victim),
     ValueError, "it has no 'state_dict'"),
    ("load file shapes malformed", lambda c, mp: load_pruned(_write(c, "x.pt", lambda d: d["shapes"].update({"1": ["linear", 20]}))),
     ValueError, "'shapes' entry '1'"),
    ("load file weights disagree with shapes", lambda c, mp: load_pruned(_write(c, "x.pt", _bad_shape)), ValueError,
     "parameter '1.weight' is (6, 20) but its layer is recorded as ['linear', 20, 5]"),
    ("load file weights disagree with shapes, model given", lambda c, mp: load_pruned(_write(c, "x.pt", _bad_shape), model=c.victim),
     ValueError, "path: "),
    ("load file state_dict holds a non-tensor", lambda c, mp: load_pruned(_write(c, "x.pt", lambda d: d["state_dict"].update({"1.bias": [0.0]}))),
     ValueError, "'state_dict' must be a dict"),
    ("load file arch rejected by builder", lambda c, mp: load_pruned(_write(c, "x.pt", lambda d: d["arch"]["kwargs"].update(bogus=1))),
     ValueError, "rejects (TypeError"),
    ("load file arch unregistered", lambda c, mp: load_pruned(_write(c, "x.pt", lambda d: d.update(arch=None))), ValueError, "model: "),
    # load: a model that is not the saved architecture
    ("load model is a name", lambda c, mp: load_pruned(c.good, model="mlp"), TypeError, "model: expected a torch.nn.Module"),
    ("load model is a state_dict", lambda c, mp: load_pruned(c.good, model=c.victim.state_dict()), TypeError, "got OrderedDict"),
    ("load into lenet5", lambda c, mp: load_pruned(c.good, model=c.victim_lenet), ValueError, "model: layer '1'"),
    ("load into a deeper mlp", lambda c, mp: load_pruned(c.good, model=c.victim_deep), ValueError, "model: the model has '5.weight'"),
    ("load into a shorter mlp", lambda c, mp: load_pruned(c.good, model=c.victim_short), ValueError, "has a layer '3' that the model has not"),
    ("load into an mlp without a bias", lambda c, mp: load_pruned(c.good, model=c.victim_nobias), ValueError, "weights '3.bias' that the model has not"),
    ("load lenet5 into other kernels", lambda c, mp: load_pruned(c.conv, model=c.victim_k3), ValueError,
     "'0.weight' is (6, 1, 5, 5) in"),
    # good rows
    ("good: numpy in meta round-trips as plain Python", lambda c, mp: _numpy_meta_round_trip(c), None, ""),
    ("good: tensors and plain values in meta", lambda c, mp: _tensor_and_plain_meta(c), None, ""),
    ("good: round trip is exact", lambda c, mp: _round_trip_exact(c), None, ""),
    ("good: overwrite keeps the file mode", lambda c, mp: _overwrite_keeps_mode(c), None, ""),
    ("good: save through a symlink", lambda c, mp: _save_through_symlink(c), None, ""),
    ("good: load into a model passed in", lambda c, mp: _load_into_given_model(c), None, ""),
    ("good: missing folders are created", lambda c, mp: _creates_missing_folders(c), None, ""),
]


@pytest.mark.parametrize("fn, exc, contains", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_io_row(ctx, monkeypatch, fn, exc, contains):
    c = ctx
    c.victim_lenet, c.victim_deep = lenet5(), mlp((20, 8, 8, 4), input_shape=(20,))
    c.victim_short, c.victim_nobias, c.victim_k3 = nn.Sequential(nn.Flatten(), nn.Linear(20, 8)), _no_bias_mlp(), lenet5(kernel_size=3)
    models = [c.model, c.victim, c.victim_lenet, c.victim_deep, c.victim_short, c.victim_nobias, c.victim_k3]
    snaps = [_snapshot(m) for m in models]
    before = c.good.read_bytes()
    files = sorted(p.name for p in c.tmp.iterdir())
    if exc is None:
        fn(c, monkeypatch)
    else:
        with pytest.raises(exc) as info:
            fn(c, monkeypatch)
        msg = str(info.value)
        assert contains in msg
        arg = msg.split(":", 1)[0]
        assert arg in ("path", "model", "meta"), f"the message must start with the argument at fault: {msg!r}"
        assert "\n" not in msg, f"the message must be one line: {msg!r}"
        assert info.value.__cause__ is None or info.value.__suppress_context__
        assert sorted(p.name for p in c.tmp.iterdir() if not p.name.endswith(("x.pt", "cut.pt", "o.pt"))) == files, "a failed call left files behind"
    assert c.good.read_bytes() == before, "the existing file changed"
    assert not [p for p in c.tmp.rglob("*") if ".tmp-" in p.name], "a temporary file was left behind"
    for m, s in zip(models, snaps): assert _same(m, s), "a model passed in was modified"


def test_row_count():
    assert len(ROWS) >= 25 and len({r[0] for r in ROWS}) == len(ROWS)


def test_interrupted_save_leaves_the_old_file(ctx, monkeypatch):
    "Even a KeyboardInterrupt halfway through the write removes the temporary file and keeps the old one."
    before = ctx.good.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        _save_failing(ctx, KeyboardInterrupt(), monkeypatch)
    assert ctx.good.read_bytes() == before and [p.name for p in ctx.tmp.iterdir() if ".tmp-" in p.name] == []


def test_bad_meta_is_rejected_before_folders_are_made(ctx):
    with pytest.raises(TypeError, match="^meta: 'fn'"):
        save_pruned(ctx.model, ctx.tmp / "new" / "m.pt", fn=lambda: 0)
    assert not (ctx.tmp / "new").exists()

"""tinygrad_kr.testing against torch.testing (PyTorch 2.13): assert_close
passes and fails exactly where PyTorch's does, over a table of cases
(tensors of each dtype, tolerances, nan and inf, shapes, dtypes, strides,
numbers, bools, None, NumPy arrays, nested sequences and mappings, custom
messages), with the same exception types and the same messages (PyTorch's
names swapped for this package's); assert_allclose; make_tensor's shapes,
ranges, flags and errors."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_kr as tkr

torch = pytest.importorskip("torch")


def _normalize(text):
    """PyTorch's message with this package's names (dtypes, Size, the Tensor class)."""
    return (text.replace("<class 'torch.Tensor'>", "<class 'tinygrad_kr.tensor.Tensor'>")
            .replace("<class 'torch.nn.parameter.Parameter'>",
                     "<class 'tinygrad_kr.nn.parameter.Parameter'>")
            .replace("torch.", "tinygrad_kr."))


def _outcome(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:      # noqa: BLE001 (the outcome is what is compared)
        return type(error), str(error)
    return None


# name -> (lib -> (actual, expected), keyword arguments)
X = np.array([1.0, 2.0, 3.0, 4.0])
CASES = {
    "equal float32": (lambda L: (L.tensor(X, dtype=L.float32), L.tensor(X, dtype=L.float32)), {}),
    "within float32 defaults": (lambda L: (L.tensor(X * (1 + 1e-6), dtype=L.float32),
                                           L.tensor(X, dtype=L.float32)), {}),
    "outside float32 defaults": (lambda L: (L.tensor(X + [0, 1e-4, 0, 3e-5], dtype=L.float32),
                                            L.tensor(X, dtype=L.float32)), {}),
    "float64 defaults": (lambda L: (L.tensor(X + 1e-7, dtype=L.float64),
                                    L.tensor(X, dtype=L.float64)), {}),
    "float64 just inside": (lambda L: (L.tensor(X + 1e-7 + 1e-7 * X - 1e-12,
                                                dtype=L.float64),
                                       L.tensor(X, dtype=L.float64)), {}),
    "float16": (lambda L: (L.tensor([1.0, 2.0], dtype=L.float16),
                           L.tensor([1.0, 2.004], dtype=L.float16)), {}),
    "2-d mismatch": (lambda L: (L.tensor([[1.0, 2.0], [3.0, 4.0]]),
                                L.tensor([[1.0, 2.5], [3.0, -4.0]])), {}),
    "int equal": (lambda L: (L.tensor([1, 2, 3]), L.tensor([1, 2, 3])), {}),
    "int mismatch": (lambda L: (L.tensor([[1, 2], [3, 4]]), L.tensor([[1, 2], [3, 7]])), {}),
    "int with atol": (lambda L: (L.tensor([1, 5]), L.tensor([2, 5])), {"rtol": 0, "atol": 1}),
    "int8": (lambda L: (L.tensor([1, 100], dtype=L.int8), L.tensor([1, -100], dtype=L.int8)),
             {}),
    "uint8": (lambda L: (L.tensor([1, 200], dtype=L.uint8), L.tensor([3, 100], dtype=L.uint8)),
              {}),
    "bool tensors": (lambda L: (L.tensor([True, False, True]), L.tensor([True, True, True])), {}),
    "expected zero": (lambda L: (L.tensor([0.5, 1.0]), L.tensor([0.0, 1.0])), {}),
    "nan default": (lambda L: (L.tensor([1.0, float("nan")]), L.tensor([1.0, float("nan")])), {}),
    "nan equal_nan": (lambda L: (L.tensor([1.0, float("nan")]), L.tensor([1.0, float("nan")])),
                      {"equal_nan": True}),
    "nan vs number": (lambda L: (L.tensor([1.0, float("nan")]), L.tensor([1.0, 2.0])),
                      {"equal_nan": True}),
    "inf equal": (lambda L: (L.tensor([float("inf"), -float("inf")]),
                             L.tensor([float("inf"), -float("inf")])), {}),
    "inf vs -inf": (lambda L: (L.tensor([float("inf"), 1.0]), L.tensor([-float("inf"), 1.0])),
                    {}),
    "inf vs finite": (lambda L: (L.tensor([float("inf")]), L.tensor([3e38])), {}),
    "signed zeros": (lambda L: (L.tensor([0.0]), L.tensor([-0.0])), {}),
    "0-d": (lambda L: (L.tensor(1.5), L.tensor(1.25)), {}),
    "0-d nan": (lambda L: (L.tensor(float("nan")), L.tensor(float("nan"))), {}),
    "0-d int": (lambda L: (L.tensor(3), L.tensor(4)), {}),
    "empty": (lambda L: (L.zeros(0, 3), L.zeros(0, 3)), {}),
    "shape": (lambda L: (L.zeros(2, 3), L.zeros(3, 2)), {}),
    "dtype": (lambda L: (L.tensor([1.0]), L.tensor([1.0], dtype=L.float64)), {}),
    "dtype off, close": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0], dtype=L.float64)),
                         {"check_dtype": False}),
    "dtype off, far": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5], dtype=L.float64)),
                       {"check_dtype": False}),
    "dtype off, int and float": (lambda L: (L.tensor([1, 2]), L.tensor([1.0, 2.000001])),
                                 {"check_dtype": False}),
    "rtol only": (lambda L: (L.tensor([1.0]), L.tensor([1.0])), {"rtol": 1e-3}),
    "atol only": (lambda L: (L.tensor([1.0]), L.tensor([1.0])), {"atol": 1e-3}),
    "given tolerances": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.01, 2.0])),
                         {"rtol": 0.0, "atol": 0.02}),
    "given tolerances fail": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.05, 2.0])),
                              {"rtol": 0.01, "atol": 0.02}),
    "zero tolerances": (lambda L: (L.tensor([1.0, 2.0], dtype=L.float64),
                                   L.tensor([1.0, 2.0000001], dtype=L.float64)),
                        {"rtol": 0, "atol": 0}),
    "msg str": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 3.0])), {"msg": "my message"}),
    "msg callable": (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 3.0])),
                     {"msg": lambda m: f"Header\n\n{m}\n\nFooter"}),
    "msg and shape": (lambda L: (L.zeros(2), L.zeros(3)), {"msg": "custom"}),
    "msg ignored when matching fails": (lambda L: ([1.0], [1.0, 2.0]), {"msg": "custom"}),
    "python floats": (lambda L: (1.0, 1.0 + 1e-8), {}),
    "python floats far": (lambda L: (1e-9, 1e-10), {"rtol": 0, "atol": 0}),
    "float and int": (lambda L: (1.0, 1), {}),
    "float and int, dtype off": (lambda L: (1.0, 1), {"check_dtype": False}),
    "ints": (lambda L: (3, 4), {}),
    "complex numbers": (lambda L: (1 + 2j, 1 + 2.5j), {}),
    "python nan": (lambda L: (float("nan"), float("nan")), {}),
    "python nan equal_nan": (lambda L: (float("nan"), float("nan")), {"equal_nan": True}),
    "numpy scalars": (lambda L: (np.float32(1.0), np.float64(1.0 + 1e-6)), {}),
    "bools": (lambda L: (True, False), {}),
    "numpy bools": (lambda L: (np.bool_(True), True), {}),
    "None": (lambda L: (None, None), {}),
    "None and number": (lambda L: (None, 1), {}),
    "strings": (lambda L: ("abc", "abc"), {}),
    "numpy arrays": (lambda L: (np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])), {}),
    "numpy arrays far": (lambda L: (np.array([1.0, 2.0]), np.array([1.5, 2.0])), {}),
    "numpy float32 arrays": (lambda L: (np.array([1.0], np.float32), np.array([1.0])), {}),
    "numpy and tensor": (lambda L: (np.array([1.0]), L.tensor([1.0])), {}),
    "tensor and number": (lambda L: (L.tensor(1.0), 1.0), {}),
    "lists": (lambda L: ([1.0, 2.0], [1.0, 2.0]), {}),
    "list and tuple": (lambda L: ([L.tensor([1.0]), 2.0, np.array(3.0)],
                                  (L.tensor([1.0]), 2.0, np.array(3.0))), {}),
    "nested mismatch": (lambda L: ([L.tensor([1.0]), [2.0, L.tensor([3.0, 4.0])]],
                                   [L.tensor([1.0]), [2.0, L.tensor([3.0, 5.0])]]), {}),
    "sequence length": (lambda L: ([1, 2], [1, 2, 3]), {}),
    "mappings": (lambda L: ({"a": L.tensor([1.0]), "b": 2.0},
                            OrderedDict([("b", 2.0), ("a", L.tensor([1.0]))])), {}),
    "mapping keys": (lambda L: ({"a": 1, "b": 2}, {"a": 1, "c": 2}), {}),
    "mapping value": (lambda L: ({"w": L.tensor([1.0, 2.0]), "b": 1}, {"w": L.tensor([1.0, 2.1]),
                                                                       "b": 1}), {}),
    "mapping in a list": (lambda L: ([{"x": 1.0}], [{"x": 1.5}]),
                          {"msg": lambda m: m.upper()}),
    "Size": (lambda L: (L.zeros(2, 3).shape, L.zeros(2, 4).shape), {}),
    "parameter and tensor": (lambda L: (L.nn.Parameter(L.tensor([1.0])), L.tensor([1.0])), {}),
    "parameter, no subclasses": (lambda L: (L.nn.Parameter(L.tensor([1.0])), L.tensor([1.0])),
                                 {"allow_subclasses": False}),
    "strides ignored": (lambda L: (L.arange(6.0).reshape(2, 3).t(),
                                   L.arange(6.0).reshape(2, 3).t().contiguous()), {}),
    "strides checked": (lambda L: (L.arange(6.0).reshape(2, 3).t(),
                                   L.arange(6.0).reshape(2, 3).t().contiguous()),
                        {"check_stride": True}),
    "layout flag": (lambda L: (L.tensor([1.0]), L.tensor([1.0])), {"check_layout": False}),
    "device flag": (lambda L: (L.tensor([1.0]), L.tensor([2.0])), {"check_device": False}),
    "many mismatches": (lambda L: (L.arange(100.0), L.arange(100.0) * 1.5), {}),
    "requires grad": (lambda L: (L.tensor([1.0], requires_grad=True), L.tensor([1.0])), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_agrees_with_torch(name):
    make, kwargs = CASES[name]
    theirs = _outcome(lambda: torch.testing.assert_close(*make(torch), **kwargs))
    ours = _outcome(lambda: tkr.testing.assert_close(*make(tkr), **kwargs))
    if theirs is None:
        assert ours is None, ours
    else:
        assert ours is not None, f"passed where PyTorch raised {theirs}"
        assert ours[0] is theirs[0]
        assert ours[1] == _normalize(theirs[1])


def test_the_table_has_passes_and_each_kind_of_failure():
    kinds = {(_outcome(lambda: torch.testing.assert_close(*m(torch), **k)) or (None,))[0]
             for m, k in CASES.values()}
    assert kinds == {None, AssertionError, TypeError, ValueError}


def test_assert_close_mismatch_message_structure():
    with pytest.raises(AssertionError) as err:
        tkr.testing.assert_close(tkr.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]),
                                 tkr.tensor([1.0, 2.0, 3.5, 4.0, 5.0, 6.0, 0.0, 8.0, 9.0, 11.0]))
    lines = str(err.value).splitlines()
    assert lines[0] == "Tensor-likes are not close!"
    assert lines[2] == "Mismatched elements: 3 / 10 (30.0%)"
    assert lines[3] == "Greatest absolute difference: 7.0 at index (6,) (up to 1e-05 allowed)"
    assert lines[4] == "Greatest relative difference: inf at index (6,) (up to 1.3e-06 allowed)"


def test_assert_allclose_is_deprecated_and_looser():
    with pytest.warns(FutureWarning, match="assert_allclose"):
        tkr.testing.assert_allclose(tkr.tensor([1.0, float("nan")]),
                                    tkr.tensor([1.00005, float("nan")]))
    with pytest.raises(AssertionError):
        tkr.testing.assert_close(tkr.tensor([1.0]), tkr.tensor([1.00005]))
    for make, kwargs in [
        (lambda L: ([1.0, 2.0], [1.0, 2.0001]), {}),
        (lambda L: (L.tensor([1.0, 2.0]), [1.0, 2.01]), {}),
        (lambda L: (L.tensor([1, 2]), L.tensor([1.0, 2.0])), {}),
        (lambda L: (L.tensor([1.0], dtype=L.float64), L.tensor([1.00001], dtype=L.float64)), {}),
        (lambda L: (L.tensor([1.0]), L.tensor([1.5])), {"msg": "custom"}),
        (lambda L: (L.tensor([1.0]), L.tensor([1.5])), {"rtol": 1.0}),
        (lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")])), {"equal_nan": False}),
    ]:
        theirs = _outcome(lambda: torch.testing.assert_allclose(*make(torch), **kwargs))
        ours = _outcome(lambda: tkr.testing.assert_allclose(*make(tkr), **kwargs))
        assert (ours is None) == (theirs is None), (ours, theirs)
        if theirs is not None:
            assert ours == (theirs[0], _normalize(theirs[1]))


# -- make_tensor --------------------------------------------------------------

DTYPES = {"bool": ((0, 2)), "uint8": (0, 10), "int8": (-9, 10), "int16": (-9, 10),
          "int32": (-9, 10), "int64": (-9, 10), "float16": (-9, 9), "float32": (-9, 9),
          "float64": (-9, 9)}


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_make_tensor_default_ranges_and_dtype(dtype):
    tkr.manual_seed(0)
    t = tkr.testing.make_tensor(40, 50, dtype=getattr(tkr, dtype), device="cpu")
    assert t.shape == (40, 50) and t.dtype == np.dtype(dtype) and t.is_contiguous()
    a = t.numpy().astype(np.float64)
    low, high = DTYPES[dtype]
    assert a.min() >= low and a.max() < high
    assert len(np.unique(a)) > 1
    if dtype != "bool" and dtype != "uint8":
        assert a.min() < -4 and a.max() > 4          # spread over the range, not a corner
    assert not t.requires_grad


def test_make_tensor_shapes_bounds_and_flags():
    mk = tkr.testing.make_tensor
    assert mk((2, 3), dtype=tkr.float32, device="cpu").shape == (2, 3)
    assert mk([4], dtype=tkr.float32, device="cpu").shape == (4,)
    assert mk(dtype=tkr.float32, device="cpu").shape == ()
    t = mk(1000, dtype=tkr.float64, device="cpu", low=2.5, high=3.0)
    assert t.min().item() >= 2.5 and t.max().item() < 3.0
    t = mk(1000, dtype=tkr.int64, device="cpu", low=-2.5, high=1.5)   # ceil: [-2, 2)
    assert set(np.unique(t.numpy())) == {-2, -1, 0, 1}
    t = mk(3, 5, dtype=tkr.float32, device="cpu", noncontiguous=True)
    assert t.shape == (3, 5) and not t.is_contiguous()
    assert mk(1, dtype=tkr.float32, device="cpu", noncontiguous=True).is_contiguous()
    t = mk(500, dtype=tkr.int32, device="cpu", low=0, high=2, exclude_zero=True)
    assert (t.numpy() == 1).all()
    t = mk(500, dtype=tkr.float16, device="cpu", low=0, high=1e-7, exclude_zero=True)
    assert (t.numpy() != 0).all()
    t = mk(3, dtype=tkr.float64, device="cpu", requires_grad=True)
    assert t.requires_grad and t.is_leaf
    t.sum().backward()
    assert np.array_equal(t.grad.numpy(), np.ones(3))
    t = mk(3, 4, dtype=tkr.float32, device="cpu", requires_grad=True, noncontiguous=True)
    assert t.requires_grad and t.is_leaf and not t.is_contiguous()
    # bounds beyond the dtype's range are clamped to it, and the draw stays finite
    t = mk(1000, dtype=tkr.float16, device="cpu", low=-1e10, high=1e10)
    assert np.isfinite(t.numpy()).all() and t.numpy().min() < -1000
    t = mk(1000, dtype=tkr.int8, device="cpu", low=-1000, high=1000)
    assert t.numpy().min() < -100 and t.numpy().max() > 100
    assert mk(2, dtype=tkr.float32, device="cpu", memory_format=object()).shape == (2,)
    tkr.manual_seed(3)
    first = mk(5, dtype=tkr.float32, device="cpu")
    tkr.manual_seed(3)
    assert np.array_equal(first.numpy(), mk(5, dtype=tkr.float32, device="cpu").numpy())
    with pytest.warns(FutureWarning, match="low==high"):
        t = mk(3, dtype=tkr.float32, device="cpu", low=2.0, high=2.0)
    assert (t.numpy() == 2.0).all()


@pytest.mark.parametrize("kwargs", [
    {"dtype": "int64", "requires_grad": True},
    {"dtype": "bool", "requires_grad": True},
    {"dtype": "float32", "low": 3.0, "high": 1.0},
    {"dtype": "int32", "low": 2, "high": 2},
    {"dtype": "float32", "low": float("nan")},
    {"dtype": "float64", "high": float("nan")},
    {"dtype": "int8", "low": 200, "high": 300},
    {"dtype": "uint8", "low": -20, "high": -10},
    {"dtype": "float32", "noncontiguous": True, "memory_format": "channels_last"},
], ids=str)
def test_make_tensor_errors_match_torch(kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("memory_format") == "channels_last":
        ours_format, theirs_format = object(), torch.channels_last
        kwargs.pop("memory_format")
    else:
        ours_format = theirs_format = None
    dtype = kwargs.pop("dtype")
    theirs = _outcome(lambda: torch.testing.make_tensor(
        2, 3, dtype=getattr(torch, dtype), device="cpu", memory_format=theirs_format, **kwargs))
    ours = _outcome(lambda: tkr.testing.make_tensor(
        2, 3, dtype=getattr(tkr, dtype), device="cpu", memory_format=ours_format, **kwargs))
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0]
    if theirs_format is None:
        assert ours[1] == _normalize(theirs[1])
    else:   # the memory format prints as each library writes it
        assert ours[1].split(" and memory_format=")[0] == theirs[1].split(" and memory_format=")[0]


def test_make_tensor_refuses_what_it_cannot_make():
    with pytest.raises(TypeError, match="'tinygrad_kr.complex64' is not supported"):
        tkr.testing.make_tensor(2, dtype=np.complex64, device="cpu")
    with pytest.raises(TypeError):
        tkr.testing.make_tensor(2, dtype=tkr.float32)       # device is required, as in PyTorch

"""The rest of PyTorch's Tensor API for dense real tensors (tensor_extras.py's
second half, _torch_extras.py's in-place table, autograd/function.py's
post-accumulate hooks), each compared with PyTorch 2.13: values, dtypes,
shapes, strides and shared memory, version bumps, the leaf refusal and what a
recorded in-place change does to the gradient, errors (type and message)."""
import multiprocessing
import pickle
import re
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.autograd import function as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from torch_compat import has_const_data_ptr

torch = pytest.importorskip("torch")

# PyTorch's advice against backward(create_graph=True) into .grad (tested on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")

RNG = np.random.default_rng(11)
LEAF = "a leaf Variable that requires grad is being used in an in-place operation"


def _lib_args(lib, args):
    return tuple(lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args)


def _same(ours, theirs, exact_dtype=True):
    o, t = ours.detach().numpy(), theirs.detach().numpy()
    assert o.shape == t.shape
    if exact_dtype:
        assert str(o.dtype) == str(t.dtype)
    np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-12)


def _raises_alike(call_ours, call_theirs, match=None):
    """Both raise the same exception type; ours matches ``match`` (default: torch's text)."""
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(type(theirs.value), match=match or re.escape(str(theirs.value))):
        call_ours()


# -- in-place forms ----------------------------------------------------------------------

F64 = RNG.standard_normal((3, 4))
F64[0, 0] = 0.0
INT = np.array([[5, -7, 0, 3], [-2, 8, 1, -1], [4, 4, -6, 9]])
I8 = np.array([100, 100, 100, -3], dtype=np.int8)
BOOL = np.array([[True, False, True, False]] * 3)
SQ = RNG.standard_normal((2, 3, 3))
SHIFT8 = np.array([1, 2, -3, 64], dtype=np.int8)

INPLACE = [
    ("absolute_", F64, ()), ("absolute_", INT, ()),
    ("cumsum_", F64, (1,)), ("cumsum_", INT, (0,)), ("cumsum_", I8, (0,)),
    ("cumsum_", F64, (0, tk.float64)),
    ("cumprod_", F64, (1,)), ("cumprod_", I8, (0,)),
    ("divide_", F64, (2.0,)), ("divide_", F64, (F64[0] + 3,)),
    ("multiply_", F64, (F64[1],)), ("multiply_", INT, (3,)),
    ("subtract_", F64, (F64[2],)), ("subtract_", INT, (2,)),
    ("eq_", F64, (F64[0],)), ("eq_", INT, (4,)), ("ne_", F64, (0.0,)), ("lt_", F64, (0.1,)),
    ("le_", INT, (INT[1],)), ("gt_", F64, (F64[2],)), ("ge_", INT, (0,)),
    ("greater_", F64, (0.0,)), ("less_equal_", INT, (1,)), ("not_equal_", INT, (4,)),
    ("logical_and_", F64, (F64[0],)), ("logical_or_", INT, (BOOL,)),
    ("logical_xor_", BOOL, (INT,)), ("logical_not_", F64, ()), ("logical_not_", INT, ()),
    ("logical_not_", BOOL, ()),
    ("sign_", F64, ()), ("sign_", INT, ()), ("sign_", BOOL, ()),
    ("tril_", F64, ()), ("tril_", SQ, (-1,)), ("triu_", F64, (1,)), ("triu_", INT, ()),
    ("swapaxes_", SQ, (0, 2)), ("swapdims_", F64, (-1, 0)),
    ("bitwise_left_shift_", SHIFT8, (np.array([1, 7, 9, 1]),)),
    ("bitwise_right_shift_", SHIFT8, (2,)), ("bitwise_left_shift_", INT, (INT[0] % 5,)),
]


def _inplace(lib, name, x, args, kwargs=None):
    t = lib.tensor(x.copy())
    before = t._version
    if name == "cumsum_" and len(args) == 2:     # the dtype (keyword-only)
        args, kwargs = args[:1], dict(dtype=lib.float64)
    r = getattr(t, name)(*_lib_args(lib, args), **(kwargs or {}))
    return t, r is t, t._version - before


@pytest.mark.parametrize("case", range(len(INPLACE)),
                         ids=[f"{n}-{x.dtype}" for n, x, _ in INPLACE])
def test_inplace_forms_match_pytorch(case):
    name, x, args = INPLACE[case]
    ours, ours_self, ours_bump = _inplace(tk, name, x, args)
    theirs, theirs_self, theirs_bump = _inplace(torch, name, x, args)
    _same(ours, theirs)
    assert ours.stride() == theirs.stride()
    assert ours_self and theirs_self
    assert ours_bump == theirs_bump == 1


def test_divide_rounding_modes_and_subtract_alpha():
    for x, args, kwargs in ((INT, (2,), dict(rounding_mode="floor")),
                            (INT, (3,), dict(rounding_mode="trunc")),
                            (F64, (0.3,), dict(rounding_mode="floor"))):
        _same(_inplace(tk, "divide_", x, args, kwargs)[0],
              _inplace(torch, "divide_", x, args, kwargs)[0])
    _same(_inplace(tk, "subtract_", INT, (INT[1],), dict(alpha=3))[0],
          _inplace(torch, "subtract_", INT, (INT[1],), dict(alpha=3))[0])


BAD_INPLACE = [
    ("cumsum_", BOOL, (0,)), ("cumprod_", BOOL, (0,)), ("absolute_", BOOL, ()),
    ("tril_", F64[0], ()), ("eq_", F64[0], (F64,)), ("logical_and_", F64[0], (F64,)),
    ("multiply_", F64[0], (F64,)), ("bitwise_left_shift_", SHIFT8, (np.zeros((2, 4), int),)),
    ("bitwise_left_shift_", F64, (1,)), ("bitwise_right_shift_", INT, (1.5,)),
    ("swapaxes_", F64, (0, 2)), ("cumsum_", F64, (5,)),
]


@pytest.mark.parametrize("case", range(len(BAD_INPLACE)),
                         ids=[n for n, _, _ in BAD_INPLACE])
def test_inplace_errors_match_pytorch(case):
    name, x, args = BAD_INPLACE[case]
    _raises_alike(lambda: _inplace(tk, name, x, args), lambda: _inplace(torch, name, x, args))


def test_inplace_dtype_errors():
    with pytest.raises(RuntimeError, match="Bad in-place call: input tensor dtype float and "
                                           "output tensor dtype long int should match"):
        tk.ones(3).cumsum_(0, dtype=tk.int64)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        tk.tensor([5, -7]).multiply_(2.5)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        tk.tensor([5, -7]).divide_(2)
    with pytest.raises(RuntimeError):
        torch.tensor([5, -7]).divide_(2)


FLOAT_INPLACE = [(n, x, a) for n, x, a in INPLACE if x.dtype == np.float64]


@pytest.mark.parametrize("case", range(len(FLOAT_INPLACE)),
                         ids=[n for n, _, _ in FLOAT_INPLACE])
def test_inplace_autograd_matches_pytorch(case):
    """A leaf that requires grad refuses (not the logical ops: PyTorch writes them
    unrecorded); on a non-leaf the change is recorded, and the gradient that
    reaches the leaf is PyTorch's (zero through a comparison or sign)."""
    name, x, args = FLOAT_INPLACE[case]
    results = []
    for lib in (tk, torch):
        kw = {}
        if name == "cumsum_" and len(args) == 2:
            args, kw = args[:1], dict(dtype=lib.float64)
        leaf = lib.tensor(x.copy(), requires_grad=True)
        try:
            getattr(leaf, name)(*_lib_args(lib, args), **kw)
            refused = None
        except RuntimeError as e:
            refused = str(e)
        y = leaf * 2
        getattr(y, name)(*_lib_args(lib, args), **kw)
        weight = lib.tensor(np.linspace(-1, 2, y.numel()).reshape(tuple(y.shape)))
        (y * weight).sum().backward()
        results.append((refused, y.requires_grad, leaf.grad))
    (refused, rg, grad), (t_refused, t_rg, t_grad) = results
    assert (refused is None) == (t_refused is None)
    if refused is not None:
        assert refused.startswith(LEAF) and t_refused.startswith(LEAF)
    assert rg == t_rg
    _same(grad, t_grad)


def test_logical_inplace_of_a_leaf_is_not_recorded_as_pytorch():
    for lib in (tk, torch):
        w = lib.tensor([1.0, 0.0, 2.0], requires_grad=True)
        w.logical_not_()
        assert w.is_leaf and w.requires_grad and w.grad_fn is None
        assert w.tolist() == [0.0, 1.0, 0.0]


def test_comparison_with_a_grad_requiring_other_records_a_zero_gradient():
    results = []
    for lib in (tk, torch):
        y = lib.ones(2, 3, dtype=lib.float64)
        w = lib.tensor([1.0, 2.0, 1.0], dtype=lib.float64, requires_grad=True)
        y.eq_(w)
        assert y.requires_grad
        (y * 3).sum().backward()
        results.append(w.grad)
    _same(*results)


def test_inplace_zero_gradient_gradchecks():
    x = tk.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: (t * 1).gt_(0.1) * t, (x,))
    assert gradcheck(lambda t: (t * 1).sign_() * t + (t * 1).cumsum_(1), (x,))
    assert gradgradcheck(lambda t: (t * t).tril_(-1) + (t * 1).swapaxes_(0, 1).T, (x,))


def test_inplace_shift_and_bitwise_operators():
    for lib in (tk, torch):
        a = lib.tensor([1, 2, -3], dtype=lib.int8)
        before = a._version
        a <<= 2
        a >>= lib.tensor([1, 0, 1], dtype=lib.int8)
        a &= 7
        a |= 8
        a ^= 1
        assert a._version - before == 5
        if lib is tk:
            ours = a
        else:
            _same(ours, a)


def test_toplevel_inplace_functions():
    x = tk.arange(6.0)
    tk.as_strided_(x, (2, 2), (1, 2))
    tk.resize_as_(x, tk.zeros(3))
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert tk.conj_physical_(x) is x


# -- bit shifts --------------------------------------------------------------------------

COUNTS = [-1, 0, 1, 3, 7, 8, 9, 15, 16, 31, 32, 63, 64, 70]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_shifts_match_pytorch_over_all_counts(dtype):
    """PyTorch's CPU rules: a count < 0 or >= the bits gives 0 (left) or the sign
    (right); values wrap in the result dtype."""
    info = np.iinfo(dtype)
    values = np.array([info.min, -5, -1, 0, 1, 3, 77, info.max], dtype=np.int64)
    values = np.unique(np.clip(values, info.min, info.max)).astype(dtype)
    counts = np.array([c for c in COUNTS if info.min <= c <= info.max], dtype=dtype)
    a, n = np.broadcast_arrays(values[:, None], counts[None, :])
    for fname in ("bitwise_left_shift", "bitwise_right_shift"):
        _same(getattr(tk, fname)(tk.tensor(a.copy()), tk.tensor(n.copy())),
              getattr(torch, fname)(torch.tensor(a.copy()), torch.tensor(n.copy())))
        for count in (3, 9, 70):        # a Python count keeps the tensor's dtype
            _same(getattr(tk.tensor(values), fname)(count),
                  getattr(torch.tensor(values), fname)(count))
    wide = np.array(COUNTS)              # int8 tensor, int64 counts: int64 results
    _same(tk.tensor(values[:, None]) << tk.tensor(wide), torch.tensor(values[:, None])
          << torch.tensor(wide))
    _same(tk.tensor(values[:, None]) >> tk.tensor(wide), torch.tensor(values[:, None])
          >> torch.tensor(wide))


def test_shift_operand_forms_and_errors():
    for make in ((lambda lib: 3 << lib.tensor([1, 2])),
                 (lambda lib: 100 >> lib.tensor([1, 2])),
                 (lambda lib: lib.bitwise_left_shift(3, lib.tensor([1, 2]))),
                 (lambda lib: lib.tensor([True, False]) << 1),
                 (lambda lib: lib.tensor([5, 6], dtype=lib.int8) << lib.tensor(3))):
        _same(make(tk), make(torch))
    for bad in ((lambda lib: lib.tensor([1.0]) << 1),
                (lambda lib: lib.tensor([1]) >> lib.tensor([1.0])),
                (lambda lib: lib.tensor([1]) << 1.5),
                (lambda lib: lib.tensor([True]) << lib.tensor([True]))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))


# -- queries and properties ---------------------------------------------------------------

def _layouts(lib):
    base = lib.tensor(np.arange(120.0).reshape(2, 3, 4, 5))
    return {
        "contiguous": base, "int8": lib.tensor(np.arange(5, dtype=np.int8)),
        "0-d": lib.tensor(3.0, dtype=lib.float64), "transposed": base[0, 0].t(),
        "expanded": lib.tensor(np.arange(3.0)).reshape(3, 1).expand(3, 4),
        "permuted": base.permute(0, 2, 3, 1), "swapped": lib.zeros(2, 1, 3).transpose(0, 2),
        "sliced": base[:, 1:, ::2], "empty": lib.zeros(0, 3),
    }


@pytest.mark.parametrize("which", ["contiguous", "int8", "0-d", "transposed", "expanded",
                                   "permuted", "swapped", "sliced", "empty"])
def test_queries_match_pytorch(which):
    ours, theirs = _layouts(tk)[which], _layouts(torch)[which]
    for name in ("nbytes", "itemsize", "is_cpu", "is_meta", "is_sparse", "is_quantized",
                 "is_nested", "is_sparse_csr", "is_mkldnn", "is_xpu", "is_mps", "is_xla",
                 "is_ipu", "is_vulkan", "is_maia", "is_mtia", "output_nr", "name"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("is_conj", "is_neg", "is_shared", "dim_order", "storage_offset", "stride",
                 "is_contiguous"):
        if not (name == "stride" and which == "empty"):   # (zeros(0, 3)'s strides are 0 here)
            assert getattr(ours, name)() == getattr(theirs, name)(), name
    assert repr(ours.layout) == "tinygrad_kr.strided" and repr(theirs.layout) == "torch.strided"
    assert ours.layout is tk.strided and isinstance(tk.strided, tk.layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_storage, theirs_storage = ours.untyped_storage(), theirs.untyped_storage()
        assert ours.storage().tolist() == theirs.storage().tolist()
    assert ours_storage.nbytes() == theirs_storage.nbytes() == len(ours_storage)
    assert ours_storage.tolist() == theirs_storage.tolist()


def test_dim_order_ambiguity_check_and_layout_pickles():
    for lib in (tk, torch):
        with pytest.raises(RuntimeError, match="does not have unique dim order"):
            lib.zeros(1, 3).dim_order(ambiguity_check=True)
        with pytest.raises(TypeError, match="must be a bool or a list of memory formats"):
            lib.zeros(2, 3).dim_order(ambiguity_check=3)
        assert lib.zeros(2, 3).t().dim_order(ambiguity_check=True) == (1, 0)
    assert pickle.loads(pickle.dumps(tk.strided)) is tk.strided


def test_complex_api_on_real_tensors_matches_pytorch():
    for lib in (tk, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3))
        for fn in (lambda t: t.conj(), lambda t: t.resolve_conj(), lambda t: t.resolve_neg(),
                   lambda t: t.conj_physical(), lambda t: t.real, lib.conj, lib.real,
                   lib.resolve_conj, lib.resolve_neg, lib.conj_physical):
            assert fn(x) is x
        assert not lib.is_conj(x) and not lib.is_neg(x)
        with pytest.raises(RuntimeError, match="imag is not implemented for tensors with "
                                               "non-complex dtypes."):
            x.imag
        with pytest.raises(RuntimeError, match="imag is not implemented"):
            lib.imag(x)
        before = x._version
        assert x.conj_physical_() is x and x._version == before + 1
        leaf = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match=LEAF):
            leaf.conj_physical_()
        y = leaf * 3
        y.conj_physical_()
        y.sum().backward()
        assert leaf.grad.tolist() == [3.0, 3.0]


def test_conjugate_transposes_match_pytorch():
    for shape in ((2, 3), (2, 3, 4), (3,), ()):
        x = RNG.standard_normal(shape)
        for name in ("H", "mH", "adjoint"):
            def get(lib, name=name):
                t = lib.tensor(x)
                return t.adjoint() if name == "adjoint" else getattr(t, name)
            with warnings.catch_warnings(record=True) as ours_warned:
                warnings.simplefilter("always")
                try:
                    theirs = get(torch)
                except RuntimeError:
                    _raises_alike(lambda: get(tk), lambda: get(torch))
                    continue
                ours = get(tk)
            _same(ours, theirs)
            assert len(ours_warned) == (2 if shape == () else 0)   # theirs and ours
    x = tk.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda t: t.H @ t + t.mH.sum() + tk.adjoint(t).sum(), (x,))


@pytest.mark.parametrize("name", ["cdouble", "cfloat", "chalf"])
def test_complex_dtypes_raise_naming_the_dtype(name):
    with pytest.raises(TypeError, match=f"no complex dtypes \\({name}\\)"):
        getattr(tk.ones(2), name)()


@pytest.mark.parametrize("name", ["eig", "symeig", "lstsq", "solve"])
def test_functions_removed_in_pytorch2_raise_its_message(name):
    a = np.eye(2)
    args = (a,) if name in ("lstsq", "solve") else ()
    _raises_alike(lambda: getattr(tk.tensor(a), name)(*_lib_args(tk, args)),
                  lambda: getattr(torch.tensor(a), name)(*_lib_args(torch, args)))
    _raises_alike(lambda: getattr(tk, name)(tk.tensor(a), *_lib_args(tk, args)),
                  lambda: getattr(torch, name)(torch.tensor(a), *_lib_args(torch, args)))


def test_const_data_ptr_is_set_to_nonzero_static():
    for lib in (tk, torch):
        x = lib.zeros(3)
        if lib is tk or has_const_data_ptr(torch):      # PyTorch 2.11 has no const_data_ptr
            assert x.const_data_ptr() == x.data_ptr()
        assert x.is_set_to(x[:]) and x.is_set_to(x.view(3)) and x.is_set_to(x.detach())
        assert not x.is_set_to(x[1:]) and not x.is_set_to(x.clone())
    for data, kw in (([[0, 1.5, 2], [3, 0, 5]], dict(size=2)),
                     ([0, 3, 0, 4.0], dict(size=4, fill_value=-7)), (3.0, dict(size=2)),
                     (0.0, dict(size=1)), ([1, 1], dict(size=0))):
        _same(tk.tensor(data).nonzero_static(**kw), torch.tensor(data).nonzero_static(**kw))
        _same(tk.nonzero_static(tk.tensor(data), **kw),
              torch.nonzero_static(torch.tensor(data), **kw))


# -- constructors, splits, reductions --------------------------------------------------------

def test_new_matches_pytorch():
    for lib in (tk, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float32)
        assert x.new().shape == (0,) and x.new().dtype == lib.float32
        assert x.new(2, 3).shape == (2, 3) and x.new(lib.Size([4])).shape == (4,)
        assert x.new(2, 3).dtype == lib.float32 and not x.new(2, 3).requires_grad
        assert x.new([1, 2]).tolist() == [1.0, 2.0]
        assert x.new((2, 3)).tolist() == [2.0, 3.0]        # a tuple is data, a Size a shape
        assert x.new(np.array([1, 2])).tolist() == [1.0, 2.0]
        assert lib.arange(3).new([1.5, 2.7]).tolist() == [1, 2]
        alias = x.new(x)
        assert alias is not x and alias.data_ptr() == x.data_ptr()
    for bad in ((lambda lib: lib.zeros(2).new(lib.tensor([1]))),
                (lambda lib: lib.zeros(2).new(2.5)), (lambda lib: lib.zeros(2).new(True)),
                (lambda lib: lib.zeros(2).new(-1)), (lambda lib: lib.zeros(2).new(2, 3.0))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch), match="")


def test_new_errors_texts():
    with pytest.raises(TypeError, match="expected TensorOptions\\(dtype=float, device=cpu"):
        tk.zeros(2).new(tk.tensor([1]))
    with pytest.raises(TypeError, match="new\\(\\): data must be a sequence \\(got float\\)"):
        tk.zeros(2).new(2.5)
    with pytest.raises(RuntimeError, match="negative dimension -1: \\[-1\\]"):
        tk.zeros(2).new(-1)


def test_new_empty_strided_matches_pytorch():
    for lib in (tk, torch):
        x = lib.zeros(2, dtype=lib.float64)
        e = x.new_empty_strided((2, 3), (1, 2))
        assert e.shape == (2, 3) and e.stride() == (1, 2) and e.dtype == lib.float64
        assert x.new_empty_strided((2,), (1,), dtype=lib.int32).dtype == lib.int32
        assert x.new_empty_strided((2, 3), (3, 1), requires_grad=True).requires_grad


def test_splits_and_narrow_copy_match_pytorch():
    x = RNG.standard_normal((4, 5))
    for name, args in (("split_with_sizes", ([1, 3],)), ("split_with_sizes", ((2, 3), 1)),
                       ("unsafe_split", (2, 1)), ("unsafe_split_with_sizes", ([2, 1, 2], 1)),
                       ("unsafe_chunk", (3,)), ("unsafe_chunk", (2, -1))):
        ours = getattr(tk.tensor(x), name)(*args)
        theirs = getattr(torch.tensor(x), name)(*args)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        for a, b in zip(getattr(tk, name)(tk.tensor(x), *args),
                        getattr(torch, name)(torch.tensor(x), *args)):
            _same(a, b)
    for bad in ((lambda lib: lib.zeros(3).split_with_sizes([1, 3])),
                (lambda lib: lib.zeros(3).split_with_sizes(2)),
                (lambda lib: lib.zeros(2, 3).narrow_copy(1, 1, 3))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))
    t = tk.tensor(x)
    c = t.narrow_copy(1, 1, 3)
    _same(c, torch.tensor(x).narrow_copy(1, 1, 3))
    _same(tk.narrow_copy(t, -1, -2, 1), torch.narrow_copy(torch.tensor(x), -1, -2, 1))
    assert c.is_contiguous()
    c[0, 0] = 100.0
    assert t[0, 1].item() == x[0, 1]
    xs = tk.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: a.narrow_copy(0, 1, 2) * 2, (xs,))
    assert gradcheck(lambda a: sum(p.sum() * (i + 1) for i, p in
                                   enumerate(a.split_with_sizes([2, 3], 1))), (xs,))


@pytest.mark.parametrize("size", [(1, 5), (4, 1), (5,), (1, 1), (), (4, 5)])
def test_sum_to_size_matches_pytorch(size):
    x = RNG.standard_normal((4, 5))
    ours, theirs = tk.tensor(x).sum_to_size(size), torch.tensor(x).sum_to_size(size)
    _same(ours, theirs)
    if size:
        _same(tk.tensor(x).sum_to_size(*size), torch.tensor(x).sum_to_size(*size))
    t = tk.tensor(x)
    assert (t.sum_to_size(size) is t) == (size == (4, 5))
    xs = tk.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: a.sum_to_size(size) * 3, (xs,))
    assert gradgradcheck(lambda a: (a * a).sum_to_size(size), (xs,))


def test_sum_to_size_errors_and_broadcast_to():
    for bad in ((lambda lib: lib.zeros(2, 3).sum_to_size(2, 2)),
                (lambda lib: lib.zeros(2, 3).sum_to_size(1, 1, 3)),
                (lambda lib: lib.zeros(3).sum_to_size(-1))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))
    _raises_alike(lambda: tk.zeros(2, 3).broadcast_to((3, 3)),
                  lambda: torch.zeros(2, 3).broadcast_to((3, 3)),
                  match="must match the existing size \\(2\\) at non-singleton dimension 0")
    x = RNG.standard_normal((2, 3))
    _same(tk.tensor(x).broadcast_to((4, 2, 3)), torch.tensor(x).broadcast_to((4, 2, 3)))
    _same(tk.tensor(x).broadcast_to(2, -1), torch.tensor(x).broadcast_to(2, -1))
    xs = tk.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: a.broadcast_to((3, 2, 3)) * tk.arange(3.0).reshape(3, 1, 1),
                     (xs,))


# -- Python callables ------------------------------------------------------------------------

def test_apply_and_map_match_pytorch():
    for make in ((lambda lib: lib.zeros(2, 3).apply_(lambda v: v * 2 + 1)),
                 (lambda lib: lib.arange(5).apply_(lambda v: v * 2.7)),
                 (lambda lib: lib.tensor([True, False]).apply_(lambda v: not v)),
                 (lambda lib: lib.tensor(np.arange(6.0).reshape(2, 3)).map_(
                     lib.tensor(np.array([1.0, 2, 3])), lambda a, b: a * b - 1)),
                 (lambda lib: lib.arange(3.0).map2_(lib.ones(3), lib.full((3,), 2.0),
                                                   lambda a, b, c: a + b * c))):
        _same(make(tk), make(torch))
    seen = []
    tk.tensor([1, 2]).map_(tk.tensor([3, 4]), lambda a, b: seen.append((type(a), type(b))) or 0)
    assert seen == [(int, int)] * 2


def test_apply_and_map_errors_match_pytorch():
    for bad in ((lambda lib: lib.zeros(3, requires_grad=True).apply_(lambda v: v)),
                (lambda lib: (lib.zeros(3, requires_grad=True) * 1).map_(lib.zeros(3),
                                                                        lambda a, b: a)),
                (lambda lib: lib.zeros(3, requires_grad=True).map2_(
                    lib.zeros(3), lib.zeros(3), lambda a, b, c: a)),
                (lambda lib: lib.zeros(3).apply_(lambda v: "s")),
                (lambda lib: lib.zeros(3).apply_(lambda v: None)),
                (lambda lib: lib.zeros(3).map_(lib.zeros(3), lambda a, b: "s"))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))
    with pytest.raises(TypeError, match="map_: expected tinygrad_kr.LongTensor for 'other' "
                                        "\\(got tinygrad_kr.FloatTensor\\)"):
        tk.arange(3).map_(tk.ones(3), lambda a, b: a)
    with pytest.raises(TypeError, match="map2_: expected tinygrad_kr.FloatTensor for argument "
                                        "'y' \\(got tinygrad_kr.LongTensor\\)"):
        tk.zeros(3).map2_(tk.zeros(3), tk.zeros(3, dtype=tk.int64), lambda a, b, c: a)
    with pytest.raises(TypeError):
        torch.arange(3).map_(torch.ones(3), lambda a, b: a)
    for lib in (tk, torch):
        with pytest.raises(RuntimeError, match="must match the existing size|must be greater "
                                               "or equal to the number of dimensions"):
            lib.zeros(3).map_(lib.zeros(2), lambda a, b: a)
        with pytest.raises(RuntimeError, match="must be greater or equal to the number of "
                                               "dimensions in the tensor \\(2\\)"):
            lib.zeros(3).map_(lib.zeros(2, 3), lambda a, b: a)


def test_apply_is_version_counted_unlike_pytorch():
    """Deliberately: a node that saved the tensor must see the change."""
    w = tk.ones(3, requires_grad=True)
    x = tk.tensor([1.0, 2, 3])
    y = (w * x).sum()
    x.apply_(lambda v: v + 1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# -- storage, resize_, set_, as_strided_ -------------------------------------------------------

def test_storages_match_pytorch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lib in (tk, torch):
            x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float32)
            s, u = x[1].storage(), x[1].untyped_storage()
            assert s.size() == len(s) == 6 and s.element_size() == 4 and s.nbytes() == 24
            assert s.data_ptr() == u.data_ptr() == x.data_ptr()
            assert s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and s[2] == 2.0
            assert u.size() == u.nbytes() == len(u) == 24 and u.element_size() == 1
            assert u.tolist() == list(np.arange(6, dtype=np.float32).view(np.uint8))
            assert u[6] == 128 and not s.is_shared() and s.dtype == lib.float32
            assert str(s.device) == str(u.device) == "cpu"
            s[1] = 7.0
            assert x[0, 1].item() == 7.0
        with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
            tk.zeros(2).storage()


RESIZES = [
    (lambda lib: lib.arange(6.0), (4,)), (lambda lib: lib.arange(6.0), (2, 2)),
    (lambda lib: lib.arange(6.0), ((3,),)), (lambda lib: lib.arange(6.0), (0,)),
    (lambda lib: lib.arange(6.0), ((),)), (lambda lib: lib.arange(6.0)[2:], (2,)),
    (lambda lib: lib.arange(6.0).reshape(2, 3).t(), (6,)),
    (lambda lib: lib.arange(6.0).reshape(2, 3).t(), (2,)),
    (lambda lib: lib.arange(6.0)[::2], (3,)),
    (lambda lib: lib.arange(6.0).reshape(2, 3).t(), (3, 2)),
    (lambda lib: lib.arange(6.0).expand(2, 6), (3,)),
]


@pytest.mark.parametrize("case", range(len(RESIZES)))
def test_resize_matches_pytorch(case):
    make, sizes = RESIZES[case]
    results = []
    for lib in (tk, torch):
        t = make(lib)
        before, ptr = t._version, t.data_ptr()
        assert t.resize_(*sizes) is t
        results.append((t, t.stride(), t.storage_offset(), t._version - before,
                        t.data_ptr() == ptr))
    (t, stride, offset, bump, kept), (tt, t_stride, t_offset, t_bump, t_kept) = results
    _same(t, tt)
    assert (stride, offset, bump) == (t_stride, t_offset, t_bump)
    assert kept == t_kept or t.numel() == 0       # (PyTorch's empty tensors have no address)


def test_resize_growing_keeps_the_leading_elements():
    for lib in (tk, torch):
        t = lib.arange(6.0)[2:]
        t.resize_(6)
        assert t.shape == (6,) and t[:4].tolist() == [2.0, 3.0, 4.0, 5.0]
    t = tk.arange(6.0)
    t.resize_(2, 4)
    assert t.tolist() == [[0.0, 1, 2, 3], [4, 5, 0, 0]]     # zeros here (PyTorch: garbage)
    a = tk.arange(6.0)
    v = a[2:]
    v.resize_(2)
    v[0] = 9.0
    assert a[2].item() == 9.0      # shrinking keeps the memory, as PyTorch


def test_resize_errors_and_deprecated_forms_match_pytorch():
    for bad in ((lambda lib: lib.arange(6.0, requires_grad=True).resize_(3)),
                (lambda lib: (lib.arange(6.0, requires_grad=True) * 2).resize_(6)),
                (lambda lib: lib.arange(6.0).resize_(2, -3))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))
    # (PyTorch 2.13 crashes the process on this one after raising)
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        tk.zeros(4).share_memory_().resize_(10)
    for lib in (tk, torch):
        t = lib.arange(6.0)
        assert t.resize_as_(lib.zeros(2, 2, dtype=lib.int64)).shape == (2, 2)
        assert t.dtype == lib.float32
        with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
            r = lib.arange(6.0).resize(3, 2)
        assert r.shape == (3, 2)
        with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
            with pytest.raises(RuntimeError, match=re.escape(
                    "requested resize to 1x3 (3 elements in total), but the given tensor has a "
                    "size of 2x3 (6 elements). autograd's resize can only change the shape of a "
                    "given tensor, while preserving the number of elements. ")):
                lib.zeros(2, 3).resize_as(lib.zeros(1, 3))
    x = tk.tensor(RNG.standard_normal(6), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda a: a.resize(2, 3) * tk.arange(3.0), (x,))


def test_set_matches_pytorch():
    x_np = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for lib in (tk, torch):
        x = lib.tensor(x_np)
        t = lib.zeros(2)
        before = t._version
        assert t.set_(x) is t and t._version == before + 1
        assert t.shape == (2, 3) and t.data_ptr() == x.data_ptr()
        t[0, 0] = 5.0
        assert x[0, 0].item() == 5.0
        assert lib.zeros(2).set_().shape == (0,)
    for make in ((lambda lib, x: lib.zeros(2).set_(x.untyped_storage(), 1, (2, 2), (1, 1))),
                 (lambda lib, x: lib.zeros(2).set_(x.untyped_storage())),
                 (lambda lib, x: lib.zeros(2).set_(x.untyped_storage(), 2, (2, 2))),
                 (lambda lib, x: lib.zeros(2).set_(x, 1, (3,), (2,)))):
        _same(make(tk, tk.tensor(x_np)), make(torch, torch.tensor(x_np)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(tk.zeros(2).set_(tk.tensor(x_np).storage()),
              torch.zeros(2).set_(torch.tensor(x_np).storage()))
        for bad in ((lambda lib: lib.zeros(2, dtype=lib.int64).set_(lib.zeros(3))),
                    (lambda lib: lib.zeros(2, requires_grad=True).set_(lib.zeros(3))),
                    (lambda lib: lib.zeros(2, dtype=lib.int64).set_(lib.zeros(3).storage())),
                    (lambda lib: lib.zeros(2).set_(lib.zeros(6).untyped_storage(), 5, (2,),
                                                   (1,)))):
            _raises_alike(lambda: bad(tk), lambda: bad(torch))


def test_set_refuses_to_enter_a_graph():
    with pytest.raises(RuntimeError, match="set_: not differentiable here"):
        tk.zeros(2).set_(tk.ones(3, requires_grad=True))


def test_as_strided_inplace_matches_pytorch():
    for make in ((lambda lib: lib.arange(6.0).as_strided_((2, 2), (1, 2))),
                 (lambda lib: lib.arange(6.0)[2:].as_strided_((2,), (1,))),
                 (lambda lib: lib.arange(6.0)[2:].as_strided_((2,), (2,), 0)),
                 (lambda lib: lib.arange(12.0).reshape(3, 4).t().as_strided_((3,), (5,), 1))):
        ours, theirs = make(tk), make(torch)
        _same(ours, theirs)
        assert ours.stride() == theirs.stride()
        assert ours.storage_offset() == theirs.storage_offset()
    base = tk.arange(6.0)
    view = base[1:]
    view.as_strided_((2,), (2,), 2)
    view[1] = 40.0
    assert base[4].item() == 40.0
    for bad in ((lambda lib: lib.zeros(2, 3).as_strided_((2, 2), (1, 2), 7)),
                (lambda lib: lib.arange(6.0).as_strided_((2,), (-1,), 3)),
                (lambda lib: lib.arange(6.0).as_strided_((2,), (1, 2))),
                (lambda lib: lib.arange(6.0, requires_grad=True).as_strided_((2,), (1,)))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch),
                      match=LEAF if "requires_grad" in bad.__code__.co_names else None)
    grads = []
    for lib in (tk, torch):
        x = lib.tensor(np.arange(6.0), requires_grad=True)
        y = x * 2
        y.as_strided_((2, 2), (1, 2))
        (y * lib.tensor([[1.0, 2], [3, 4]])).sum().backward()
        grads.append(x.grad)
    _same(*grads)


def _write_in_child(t):
    t[0] = 42.0
    t.add_(1)


def test_share_memory_is_seen_by_a_forked_child():
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    ctx = multiprocessing.get_context("fork")
    shared = tk.arange(4.0).reshape(2, 2).t()
    assert shared.share_memory_() is shared and shared.is_shared()
    assert torch.arange(4.0).share_memory_().is_shared()
    assert shared.tolist() == [[0.0, 2.0], [1.0, 3.0]] and shared.stride() == (1, 2)
    private = tk.arange(4.0).reshape(2, 2)
    for t in (shared, private):
        child = ctx.Process(target=_write_in_child, args=(t,))
        child.start()
        child.join(30)
        assert child.exitcode == 0
    assert shared.tolist() == [[43.0, 43.0], [2.0, 4.0]]
    assert private.tolist() == [[0.0, 1.0], [2.0, 3.0]]      # not shared: the child's copy
    assert shared.share_memory_() is shared and not private.is_shared()
    shared.resize_(2)                                      # shrinking stays allowed
    assert shared.is_shared()


# -- register_post_accumulate_grad_hook ----------------------------------------------------------

def test_post_accumulate_hook_docstring_example_matches_pytorch():
    results = []
    for lib in (tk, torch):
        v = lib.tensor([0.0, 0.0, 0.0], requires_grad=True)
        h = v.register_post_accumulate_grad_hook(lambda p: p.add_(p.grad, alpha=-0.01))
        v.backward(lib.tensor([1.0, 2.0, 3.0]))
        h.remove()
        (v * 2).sum().backward()
        results.append((v.detach().clone(), v.grad))
    _same(results[0][0], results[1][0])
    _same(results[0][1], results[1][1])


def _hooked_graph(log):
    rng = np.random.default_rng(5)
    a = tk.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = tk.tensor(rng.standard_normal((4,)), requires_grad=True)
    a.register_hook(lambda g: log.append(("pre a", None)) or g * 2)
    a.register_post_accumulate_grad_hook(
        lambda p: log.append(("post a", p.grad.numpy().copy(), tk.is_grad_enabled())))
    b.register_post_accumulate_grad_hook(lambda p: log.append(("post b", p.grad.numpy().copy(),
                                                               tk.is_grad_enabled())))
    h = tk.relu(a * b) + a.sum(1, keepdim=True) * b     # a and b each used twice
    return [a, b], (h * h).sum()


def test_post_accumulate_hooks_run_alike_in_both_graph_cores():
    """Once per leaf and backward, with the whole (pre-hooked) gradient already
    in .grad, under no_grad: from the compiled walk (loss.backward()) and from
    the reference walk (function.py's _run_backward)."""
    runs = []
    for walk in ("loss.backward", "reference"):
        log = []
        leaves, loss = _hooked_graph(log)
        if walk == "loss.backward":
            loss.backward()
        else:
            F._run_backward((loss,), (F._root_grad(loss, None, False),), False, False)
        runs.append((log, [t.grad.numpy() for t in leaves]))
    (log, grads), (ref_log, ref_grads) = runs
    assert [e[0] for e in log] == [e[0] for e in ref_log]
    assert [e[0] for e in log].count("post a") == 1 and "post b" in [e[0] for e in log]
    assert [e[0] for e in log].index("pre a") < [e[0] for e in log].index("post a")
    for entry, ref in zip(log, ref_log):
        if entry[0].startswith("post"):
            np.testing.assert_array_equal(entry[1], ref[1])
            assert entry[2] is False and ref[2] is False
    for g, ref, t in zip(grads, ref_grads, _hooked_graph([])[0]):
        np.testing.assert_array_equal(g, ref)
    post = {e[0]: e[1] for e in log if e[0].startswith("post")}
    np.testing.assert_array_equal(post["post a"], grads[0])
    np.testing.assert_array_equal(post["post b"], grads[1])


def test_post_accumulate_hooks_with_inputs_grad_and_create_graph_match_pytorch():
    for lib in (tk, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        log = []
        x.register_post_accumulate_grad_hook(
            lambda p: log.append((p.grad.tolist(), lib.is_grad_enabled())))
        ((x * w).sum() + (x * x).sum()).backward(inputs=[x])
        assert log == [([5.0, 8.0], False)] and w.grad is None
        lib.autograd.grad((x * w).sum(), x)
        assert len(log) == 1                       # autograd.grad accumulates nothing
        x.grad = None
        (x * w).sum().backward(create_graph=True)
        assert log[1] == ([3.0, 4.0], True)
        x.grad = None
        x.sum().backward()                          # a leaf as the root
        assert log[2] == ([1.0, 1.0], False)
        handle = x.register_post_accumulate_grad_hook(lambda p: log.append("second"))
        handle.remove()
        x.sum().backward()
        assert len(log) == 4 and "second" not in log


def test_post_accumulate_hook_errors_match_pytorch():
    for bad in ((lambda lib: (lib.ones(2, requires_grad=True) * 2)
                 .register_post_accumulate_grad_hook(print)),
                (lambda lib: lib.ones(2).register_post_accumulate_grad_hook(print))):
        _raises_alike(lambda: bad(tk), lambda: bad(torch))
    for hook in ((lambda p: p.detach()), (lambda p: "x")):
        def run(lib, hook=hook):
            v = lib.ones(2, requires_grad=True)
            v.register_post_accumulate_grad_hook(hook)
            (v * 2).sum().backward()
        _raises_alike(lambda: run(tk), lambda: run(torch))
    for lib in (tk, torch):           # returning the tensor itself is allowed (p.add_(...))
        v = lib.ones(2, requires_grad=True)
        v.register_post_accumulate_grad_hook(lambda p: p)
        (v * 2).sum().backward()


def _optimizer_in_backward(lib, weights, data, steps):
    """PyTorch's tutorial "How to save memory by fusing the optimizer step into
    the backward pass": one optimizer per parameter, stepped by its hook."""
    model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2)).double()
    with lib.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(lib.tensor(w))
    optimizer_dict = {p: lib.optim.Adam([p], lr=0.05) for p in model.parameters()}

    def optimizer_hook(parameter):
        optimizer_dict[parameter].step()
        optimizer_dict[parameter].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(optimizer_hook)
    x, y = lib.tensor(data[0]), lib.tensor(data[1])
    for _ in range(steps):
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        assert all(p.grad is None for p in model.parameters())
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_optimizer_in_backward_tutorial_matches_pytorch():
    rng = np.random.default_rng(2)
    weights = [rng.standard_normal(s) * 0.5 for s in ((5, 4), (5,), (2, 5), (2,))]
    data = (rng.standard_normal((8, 4)), rng.standard_normal((8, 2)))
    ours = _optimizer_in_backward(tk, weights, data, 4)
    theirs = _optimizer_in_backward(torch, weights, data, 4)
    for a, b, w in zip(ours, theirs, weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        assert not np.allclose(a, w)


# -- subclasses and ops as methods ---------------------------------------------------------------

class _OursSub(tk.Tensor):
    pass


class _TheirsSub(torch.Tensor):
    pass


def test_as_subclass_matches_pytorch():
    for lib, cls in ((tk, _OursSub), (torch, _TheirsSub)):
        x = lib.tensor([1.0, 2.0])
        m = x.as_subclass(cls)
        assert type(m) is cls and m.data_ptr() == x.data_ptr() and not m.requires_grad
        m[0] = 5.0
        assert x[0].item() == 5.0
        leaf = lib.ones(2, requires_grad=True)
        s = leaf.as_subclass(cls)
        assert type(s) is cls and s.requires_grad and not s.is_leaf
        (s * 3).sum().backward()
        assert leaf.grad.tolist() == [3.0, 3.0]
        with lib.no_grad():      # PyTorch: a leaf's alias still requires grad, a leaf
            alias, other = leaf.as_subclass(cls), (leaf * 2).as_subclass(cls)
            assert alias.requires_grad and alias.is_leaf and not other.requires_grad
    _raises_alike(lambda: tk.ones(1).as_subclass(int), lambda: torch.ones(1).as_subclass(int))
    x = tk.tensor(RNG.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda t: t.as_subclass(_OursSub) * t, (x,))


def test_functional_and_linalg_methods_match_pytorch():
    x = RNG.standard_normal((2, 3, 4))
    A = RNG.standard_normal((4, 3))
    B = np.array([[4.0, 1, 0.5], [1, 3, 0.2], [0.3, 0.1, 2]])
    b = RNG.standard_normal((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for make in ((lambda lib: lib.tensor(x).hardshrink()),
                     (lambda lib: lib.tensor(x).hardshrink(0.8)),
                     (lambda lib: lib.tensor(x).prelu(lib.tensor(np.array([0.1, 0.2, 0.3])))),
                     (lambda lib: lib.tensor(x).prelu(lib.tensor(np.array(0.25)))),
                     (lambda lib: lib.tensor(A).orgqr(lib.tensor(np.array([1.2, 0.5, 0.3])))),
                     (lambda lib: lib.orgqr(lib.tensor(A), lib.tensor(np.array([1.2, 0.5])))),
                     (lambda lib: lib.tensor(b).lu_solve(*lib.linalg.lu_factor(lib.tensor(B)))),
                     (lambda lib: lib.tensor(b).triangular_solve(lib.tensor(B))[0]),
                     (lambda lib: lib.tensor(b).triangular_solve(
                         lib.tensor(B), upper=False, transpose=True, unitriangular=True)[0])):
            _same(make(tk), make(torch))
        _raises_alike(lambda: tk.tensor(x).prelu(tk.tensor(np.array([0.1, 0.2]))),
                      lambda: torch.tensor(x).prelu(torch.tensor(np.array([0.1, 0.2]))))
    with pytest.warns(UserWarning, match="torch.lu_solve is deprecated"):
        tk.tensor(b).lu_solve(*tk.linalg.lu_factor(tk.tensor(B)))

"""The dense kernels (csrc/blas.pyx, conv.pyx, pool.pyx) against their NumPy
twins (kernels/ref_blas.py, ref_conv.py, ref_pool.py), and the twins against
PyTorch where it is installed.

Tolerances: the compiled kernels and the twins add the same products in a
different order (BLAS blocking, im2col chunks, window order), so they agree to
a few ulps of the *terms*: rtol 1e-5 / 1e-12 plus an atol scaled by the
typical size of a sum of ``k`` unit-variance products (sqrt(k)).
"""
import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_kr import kernels
from needs import unavailable
from cases import rng_for as _rng

DTYPES = [np.float32, np.float64]
EPS = {np.float32: 1e-5, np.float64: 1e-12}


def _pair(name):
    """(compiled, twin) of kernel ``name``; skips when it was not compiled."""
    fn = kernels.compiled(name)
    if fn is None:
        unavailable(f"{name} is not compiled ({kernels.build_errors()})")
    return fn, kernels.reference(name)


def assert_close(actual, expected, dtype, terms=1):
    """Equal shape and dtype, values within the module tolerance for sums of ``terms``."""
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype == np.dtype(dtype)
    eps = EPS[dtype]
    np.testing.assert_allclose(actual, expected, rtol=eps, atol=eps * np.sqrt(max(terms, 1)))


def _noncontiguous(a, rng):
    """The same values in a non-contiguous array (every other element of a bigger one)."""
    big = np.empty(a.shape[:-1] + (2 * a.shape[-1] + 1,), dtype=a.dtype)
    big[...] = rng.standard_normal(big.shape)
    view = big[..., 1::2]
    view[...] = a
    assert not view.flags.c_contiguous or a.size <= 1
    return view


# ================================================================== bias_grad

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (0, 3), (4, 0), (3, 4, 5, 6), (2, 3, 0, 2),
                                   (5, 2, 7), (2, 3, 4, 8), (2, 2, 49)])   # spatial 32, 49: the 16 lanes
@pytest.mark.parametrize("contiguous", [True, False])
def test_bias_grad_matches_twin(shape, dtype, contiguous):
    fn, twin = _pair("bias_grad")
    rng = _rng(("bias_grad", shape, dtype, contiguous))
    gy = rng.standard_normal(shape).astype(dtype)
    if not contiguous:
        gy = _noncontiguous(gy, rng)
    terms = gy.size // shape[1] if shape[1] else 0
    assert_close(fn(gy), twin(gy), dtype, terms)


@pytest.mark.parametrize("kernel", ["compiled", "twin"])
def test_bias_grad_rejects_bad_input(kernel):
    fn = _pair("bias_grad")[0 if kernel == "compiled" else 1]
    with pytest.raises(ValueError, match="at least 2 dims"):
        fn(np.zeros(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        fn(np.zeros((2, 3), np.int64))


# ======================================================================= GEMM

GEMM_SHAPES = [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 31, 1), (1, 40, 23), (0, 4, 3), (5, 0, 3),
               (4, 3, 0), (0, 0, 0)]


def _operands(m, k, n, trans_a, trans_b, dtype, rng):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", GEMM_SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("with_bias", [False, True])
def test_gemm_matches_twin(m, k, n, trans_a, trans_b, with_bias, dtype):
    comp, ref = _pair("gemm")
    rng = _rng(m, k, n, trans_a, trans_b, with_bias, dtype)
    a, b = _operands(m, k, n, trans_a, trans_b, dtype, rng)
    bias = rng.standard_normal(n).astype(dtype) if with_bias else None
    out = comp(a, b, trans_a, trans_b, bias)
    assert out.flags.c_contiguous
    assert_close(out, ref(a, b, trans_a, trans_b, bias), dtype, k)
    # the flags and the explicit transposes agree (and match NumPy)
    expected = (a.T if trans_a else a) @ (b.T if trans_b else b)
    assert_close(out, expected + (bias if with_bias else 0), dtype, k)


def _strided_views(x, rng):
    """x as an F-ordered array (a transposed C array), a non-contiguous
    slice and a negative-stride view, each holding x's values."""
    return [np.asfortranarray(x), _noncontiguous(x, rng), np.ascontiguousarray(x[::-1])[::-1]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_gemm_strided_operands(trans_a, trans_b, dtype):
    comp, _ = _pair("gemm")
    rng = _rng("strided", trans_a, trans_b, dtype)
    a, b = _operands(13, 11, 7, trans_a, trans_b, dtype, rng)
    expected = comp(a, b, trans_a, trans_b)
    for va in _strided_views(a, rng):
        for vb in _strided_views(b, rng):
            np.testing.assert_array_equal(va, a)
            assert_close(comp(va, vb, trans_a, trans_b), expected, dtype, 11)
    # a 0-stride (broadcast) operand
    row = rng.standard_normal((1, a.shape[1])).astype(dtype)
    wide = np.broadcast_to(row, a.shape)
    assert_close(comp(wide, b, trans_a, trans_b), comp(np.ascontiguousarray(wide), b, trans_a,
                                                       trans_b), dtype, 11)


def test_gemm_leaves_inputs_alone():
    comp, _ = _pair("gemm")
    rng = _rng("inputs")
    a, b, bias = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    copies = [a.copy(), b.copy(), bias.copy()]
    comp(a, b, False, False, bias)
    for before, after in zip(copies, (a, b, bias)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", ["gemm", "batched_matmul"])
def test_matmul_kernels_reject_bad_input(name):
    comp, _ = _pair(name)
    nd = 2 if name == "gemm" else 3
    good = np.ones((2,) * nd)
    with pytest.raises(TypeError, match="same dtype"):
        comp(good, good.astype(np.float32))
    with pytest.raises(TypeError, match="float32 and float64"):
        comp(good.astype(np.int64), good.astype(np.int64))
    with pytest.raises(TypeError, match="numpy arrays"):
        comp(good, good.tolist())
    with pytest.raises(ValueError, match=f"{nd}-D"):
        comp(np.ones((2,) * (nd + 1)), np.ones((2,) * (nd + 1)))
    with pytest.raises(ValueError, match=r"inner dimensions differ.*\(3\) .*\(2\)|\(3 != 2\)"):
        comp(np.ones((2,) * (nd - 1) + (3,)), good)


def test_gemm_rejects_bad_bias():
    comp, _ = _pair("gemm")
    a, b = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        comp(a, b, bias=np.ones(3))
    with pytest.raises(TypeError, match="bias must be a float64"):
        comp(a, b, bias=np.ones(4, dtype=np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_a,batch_b", [(3, 3), (1, 4), (4, 1), (0, 0), (0, 1)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_batched_matmul_matches_twin(batch_a, batch_b, trans_a, trans_b, dtype):
    comp, ref = _pair("batched_matmul")
    rng = _rng(batch_a, batch_b, trans_a, trans_b, dtype)
    m, k, n = 5, 7, 3
    a = rng.standard_normal((batch_a,) + ((k, m) if trans_a else (m, k))).astype(dtype)
    b = rng.standard_normal((batch_b,) + ((n, k) if trans_b else (k, n))).astype(dtype)
    assert_close(comp(a, b, trans_a, trans_b), ref(a, b, trans_a, trans_b), dtype, k)
    # a swapaxes view is taken as a transposed operand, not copied
    at = np.ascontiguousarray(np.swapaxes(a, 1, 2))
    assert_close(comp(np.swapaxes(at, 1, 2), b, trans_a, trans_b), ref(a, b, trans_a, trans_b),
                 dtype, k)


def test_batched_matmul_rejects_mismatched_batches():
    comp, _ = _pair("batched_matmul")
    with pytest.raises(ValueError, match="batch sizes differ"):
        comp(np.ones((2, 3, 3)), np.ones((3, 3, 3)))


# ----------------------------------------------------- GEMMs split over threads
# Products of m*n*k >= 262144 are cut into row or column blocks, one per
# OpenMP thread (csrc/_gemm.pxd gemm_split).  Odd sizes leave ragged blocks.

@pytest.fixture
def threads():
    """Run the body with 1 and then 3 OpenMP threads; restore the count."""
    from tinygrad_kr import config
    before = config.get_num_threads()

    def use(n):
        config.set_num_threads(n)
        return config.get_num_threads()
    yield use
    config.set_num_threads(before)


SPLIT_SHAPES = [(257, 131, 97), (37, 300, 531), (1, 4000, 700), (700, 400, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", SPLIT_SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_split_gemm_matches_twin_on_any_thread_count(m, k, n, trans_a, trans_b, dtype,
                                                     threads):
    comp, ref = _pair("gemm")
    rng = _rng("split", m, k, n, trans_a, trans_b, dtype)
    a, b = _operands(m, k, n, trans_a, trans_b, dtype, rng)
    bias = rng.standard_normal(n).astype(dtype)
    want = ref(a, b, trans_a, trans_b, bias)
    got = {}
    for t in (1, 3):
        threads(t)
        got[t] = comp(a, b, trans_a, trans_b, bias)
        assert_close(got[t], want, dtype, terms=k)
    assert_close(got[3], got[1], dtype, terms=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_split_batched_matmul_matches_twin_on_any_thread_count(batch, dtype, threads):
    comp, ref = _pair("batched_matmul")
    rng = _rng("split-batched", batch, dtype)
    a = rng.standard_normal((batch, 97, 131)).astype(dtype)
    b = rng.standard_normal((1, 131, 61)).astype(dtype)
    want = ref(a, b)
    for t in (1, 3):
        threads(t)
        assert_close(comp(a, b), want, dtype, terms=131)
        a_t = np.ascontiguousarray(a.transpose(0, 2, 1))     # stored (batch, k, m)
        assert_close(comp(a_t, b, True, False), want, dtype, terms=131)


# -- blocks for OpenBLAS's small-matrix kernels (csrc/_gemm.pxd gemm_plan) -----
# Whether the engine cuts GEMMs this way depends on the CPU's OpenBLAS core;
# these tests force it on, so the cutting is checked on any machine (the
# blocked product is right on any BLAS, only slower where it has no such
# kernels).

SMALL_MNK = 1_000_000


@pytest.fixture
def small_blocks():
    """The compiled blas module with small-kernel blocking forced on."""
    if kernels.compiled("gemm") is None:
        unavailable(f"gemm is not compiled ({kernels.build_errors()})")
    from tinygrad_kr._C import blas
    was = blas._use_small_kernels(True)
    yield blas
    blas._use_small_kernels(was)


# (m, n, k): an MLP's 784-100 layer forward / weight gradient, its 100-100
# layers, a LeNet-sized FC layer, ragged sizes, one too big for the kernels
# (op(b) beyond L2), and products under the limit
PLAN_SHAPES = [(128, 100, 784), (100, 784, 128), (128, 100, 100), (100, 100, 128),
               (128, 120, 400), (257, 97, 131), (37, 531, 300), (13, 1000, 200),
               (512, 512, 512), (64, 100, 100), (1, 4000, 700), (700, 1, 400)]


@pytest.mark.parametrize("m,n,k", PLAN_SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gemm_blocks_cover_c_and_fit_the_small_kernels(small_blocks, m, n, k, trans_a,
                                                       trans_b, threads):
    by_rows, blocks = small_blocks._gemm_blocks(trans_a, trans_b, m, n, k, threads)
    extent = m if by_rows else n
    # disjoint, in order, none empty, covering all of c
    assert blocks[0][0] == 0 and blocks[-1][1] == extent
    assert all(lo < hi for lo, hi in blocks)
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    # column blocks start on whole 16-float vectors of c's rows
    if not by_rows:
        assert all(lo % 16 == 0 for lo, _ in blocks)
    cut_for_small = len(blocks) > threads or (threads == 1 and len(blocks) > 1)
    if cut_for_small:
        assert m * n * k > SMALL_MNK
        assert not (trans_a and trans_b)             # no TT small kernel
        assert len(blocks) % threads == 0            # whole rounds over the threads
        for lo, hi in blocks:                        # every block is one the kernels take
            bm, bn = (hi - lo, n) if by_rows else (m, hi - lo)
            assert bm * bn * k <= SMALL_MNK
            if trans_b:
                assert bm * bn <= 1200 and k >= 32
    else:
        assert len(blocks) <= threads
    # float64 is never cut for them (the rules were read for sgemm only)
    assert len(small_blocks._gemm_blocks(trans_a, trans_b, m, n, k, 1, False)[1]) == 1


@pytest.mark.parametrize("m,n,k,trans_a,trans_b", [
    (128, 100, 784, False, True), (128, 100, 784, False, False), (100, 784, 128, True, False),
    (100, 100, 128, True, False), (128, 100, 100, False, False)])
def test_mlp_gemms_are_cut_for_the_small_kernels(small_blocks, m, n, k, trans_a, trans_b):
    """The shapes the cut was measured on (an MLP step: 15-25% faster) are cut."""
    assert len(small_blocks._gemm_blocks(trans_a, trans_b, m, n, k, 1)[1]) > 1


@pytest.mark.parametrize("m,n,k", [(128, 100, 784), (100, 784, 128), (257, 97, 131),
                                   (37, 531, 300), (13, 1000, 200), (100, 100, 128)])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_small_blocks_give_the_unblocked_product(small_blocks, m, n, k, trans_a, trans_b,
                                                 threads):
    rng = _rng("small-blocks", m, n, k, trans_a, trans_b)
    a, b = _operands(m, k, n, trans_a, trans_b, np.float32, rng)
    bias = rng.standard_normal(n).astype(np.float32)
    want = kernels.reference("gemm")(a, b, trans_a, trans_b, bias)
    # strided operands: each block must start at its own rows/columns of them
    va, vb = _noncontiguous(a, rng), np.asfortranarray(b)
    for t in (1, 3):
        threads(t)
        small_blocks._use_small_kernels(True)
        blocked = small_blocks.gemm(a, b, trans_a, trans_b, bias)
        assert_close(blocked, want, np.float32, terms=k)
        assert_close(small_blocks.gemm(va, vb, trans_a, trans_b, bias), want, np.float32,
                     terms=k)
        # a batch of one goes through the same cut
        assert_close(small_blocks.batched_matmul(a[None], b[None], trans_a, trans_b)[0],
                     want - bias, np.float32, terms=k)
        small_blocks._use_small_kernels(False)
        assert_close(blocked, small_blocks.gemm(a, b, trans_a, trans_b, bias), np.float32,
                     terms=k)


# x @ W^T with fewer than 128 inputs: run on a transposed copy of W (csrc/_gemm.pxd,
# nt_via_copy): MLP and LeNet hidden layers, a ragged one, the 16-row edge
NT_COPY_SHAPES = [(128, 100, 100), (128, 10, 100), (64, 84, 120), (16, 33, 127), (300, 7, 1)]


@pytest.mark.parametrize("m,n,k", NT_COPY_SHAPES)
def test_weight_transposed_products_run_on_a_transposed_copy(small_blocks, m, n, k, threads):
    from tinygrad_kr import config
    rng = _rng("nt-copy", m, n, k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    wt = small_blocks._transposed(w)
    assert wt.flags.c_contiguous and np.array_equal(wt, w.T)
    want = kernels.reference("gemm")(a, w, False, True, bias)
    for t in (1, 3):
        threads(t)
        got = small_blocks.gemm(a, w, False, True, bias)
        assert_close(got, want, np.float32, terms=k)
        own = "split over OpenMP" in config.config()["gemm_threading"]
        split = own and t > 1 and m * n * k >= 262144   # SPLIT_MIN_WORK: threads share it
        if not split:
            # the copy is what ran: the very same product as on W^T made by hand
            assert np.array_equal(got, small_blocks.gemm(a, wt, False, False, bias))
        else:
            # no copy for a product split over threads (the copy's reads cross cores)
            small_blocks._use_small_kernels(False)
            assert np.array_equal(got, small_blocks.gemm(a, w, False, True, bias))
            small_blocks._use_small_kernels(True)
        # a strided W is used as it is (no copy), still right
        assert_close(small_blocks.gemm(a, np.asfortranarray(w), False, True, bias), want,
                     np.float32, terms=k)
    # not for float64, nor below 16 rows, nor from 128 inputs on (the kernels take those)
    for args in ((a.astype(np.float64), w.astype(np.float64)), (a[:15], w)):
        assert_close(small_blocks.gemm(*args, False, True),
                     kernels.reference("gemm")(*args, False, True), args[0].dtype.type, terms=k)


def test_scipy_blas_stays_on_one_thread_when_the_kernels_split():
    """The kernels own the threads: SciPy's OpenBLAS is pinned to 1, also
    after set_num_threads (which raises it through threadpoolctl)."""
    from tinygrad_kr import config
    from tinygrad_kr.kernels import _blas_threads
    if os.environ.get("TKR_KERNELS", "").lower() == "numpy":
        # on the twins BLAS keeps its own threads, and the engine says so
        assert _blas_threads.blas_threads_info()[0] is None
        assert "not in use" in config.config()["gemm_threading"]
        return
    blas_threads, how = _blas_threads.blas_threads_info()
    if kernels.compiled("gemm") is None or blas_threads is None:
        unavailable(f"GEMMs are not split here: {how}")
    assert blas_threads == 1
    n = config.get_num_threads()
    config.set_num_threads(2)
    config.set_num_threads(n)
    assert _blas_threads.blas_threads_info()[0] == 1
    assert "split over OpenMP" in config.config()["gemm_threading"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_kernels_agree_on_any_thread_count(dtype, threads):
    """LeNet-sized layers, big enough that every GEMM is split."""
    names = ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")
    pairs = [_pair(name) for name in names]
    rng = _rng("conv-threads", dtype)
    for shape in [(16, 6, 14, 14, 16, 5, 5), (8, 1, 28, 28, 6, 5, 5)]:
        N, C, H, W, O, kh, kw = shape
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((O, C, kh, kw)).astype(dtype)
        b = rng.standard_normal(O).astype(dtype)
        geometry = ((1, 1), (1, 1), (1, 1))
        y = pairs[0][1](x, w, b, *geometry)
        gy = rng.standard_normal(y.shape).astype(dtype)
        want = [y, pairs[1][1](gy, w, x.shape, *geometry), pairs[2][1](gy, x, w.shape, *geometry)]
        for t in (1, 3):
            threads(t)
            got = [pairs[0][0](x, w, b, *geometry), pairs[1][0](gy, w, x.shape, *geometry),
                   pairs[2][0](gy, x, w.shape, *geometry)]
            for g, e, terms in zip(got, want, (C * kh * kw, O * kh * kw, N * y.shape[2] ** 2)):
                assert_close(g, e, dtype, terms=terms)


# =================================================================== conv2d

# (N, C, H, W, O, kh, kw): odd sizes, 1x1 kernels, size-1 dims, a kernel as big
# as the input, an empty batch, no output or input channels.
CONV_SHAPES = [(2, 3, 9, 7, 4, 3, 2), (1, 1, 5, 5, 2, 5, 5), (3, 2, 11, 8, 5, 1, 1),
               (2, 4, 6, 1, 3, 3, 1), (1, 1, 1, 1, 1, 1, 1), (0, 2, 6, 6, 3, 3, 3),
               (2, 2, 5, 5, 0, 2, 2), (2, 0, 5, 5, 3, 2, 2)]
# Vertical stride and dilation 1 take the row-reuse path of im2col/col2im
# (with padding, with horizontal stride or dilation, with padding past the
# kernel so whole rows are zero); the others the row-by-row path.
CONV_GEOMETRY = [((1, 1), (0, 0), (1, 1)), ((2, 3), (1, 2), (1, 1)), ((1, 2), (2, 0), (2, 1)),
                 ((3, 1), (1, 1), (1, 3)), ((1, 2), (2, 1), (1, 2)), ((1, 1), (3, 3), (1, 1))]


def _conv_case(shape, geometry, dtype):
    N, C, H, W, O, kh, kw = shape
    stride, padding, dilation = geometry
    rng = _rng(shape, geometry, dtype)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, kh, kw)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    return rng, x, w, b


def _conv_out(shape, geometry):
    N, C, H, W, O, kh, kw = shape
    (sh, sw), (ph, pw), (dh, dw) = geometry
    return ((H + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


def _valid_conv_cases():
    for shape, geometry in itertools.product(CONV_SHAPES, CONV_GEOMETRY):
        if min(_conv_out(shape, geometry)) >= 1:
            yield shape, geometry


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,geometry", list(_valid_conv_cases()))
def test_conv2d_kernels_match_twins(shape, geometry, dtype):
    forward, forward_ref = _pair("conv2d_forward")
    back_x, back_x_ref = _pair("conv2d_backward_input")
    back_w, back_w_ref = _pair("conv2d_backward_weight")
    rng, x, w, b = _conv_case(shape, geometry, dtype)
    C, kh, kw = shape[1], shape[5], shape[6]
    for bias in (b, None):
        y = forward(x, w, bias, *geometry)
        assert_close(y, forward_ref(x, w, bias, *geometry), dtype, C * kh * kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(back_x(gy, w, x.shape, *geometry), back_x_ref(gy, w, x.shape, *geometry),
                 dtype, shape[4] * kh * kw)
    assert_close(back_w(gy, x, w.shape, *geometry), back_w_ref(gy, x, w.shape, *geometry),
                 dtype, gy.shape[0] * gy.shape[2] * gy.shape[3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_kernels_take_noncontiguous_inputs(dtype):
    forward, _ = _pair("conv2d_forward")
    back_x, _ = _pair("conv2d_backward_input")
    back_w, _ = _pair("conv2d_backward_weight")
    shape, geometry = (2, 3, 7, 6, 4, 3, 3), ((1, 2), (1, 1), (1, 1))
    rng, x, w, b = _conv_case(shape, geometry, dtype)
    y = forward(x, w, b, *geometry)
    gy = rng.standard_normal(y.shape).astype(dtype)
    xs, ws, bs, gys = (_noncontiguous(a, rng) for a in (x, w, b, gy))
    np.testing.assert_array_equal(forward(xs, ws, bs, *geometry), y)
    np.testing.assert_array_equal(back_x(gys, ws, x.shape, *geometry),
                                  back_x(gy, w, x.shape, *geometry))
    np.testing.assert_array_equal(back_w(gys, xs, w.shape, *geometry),
                                  back_w(gy, x, w.shape, *geometry))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_kernels_chunked_batches(dtype):
    """Batches split into several im2col chunks give the one-chunk result."""
    forward, _ = _pair("conv2d_forward")
    back_x, _ = _pair("conv2d_backward_input")
    back_w, _ = _pair("conv2d_backward_weight")
    from tinygrad_kr._C import conv
    shape, geometry = (7, 3, 9, 8, 5, 3, 3), ((1, 1), (1, 1), (1, 1))
    rng, x, w, b = _conv_case(shape, geometry, dtype)
    gy = rng.standard_normal((7, 5, 9, 8)).astype(dtype)
    whole = (forward(x, w, b, *geometry), back_x(gy, w, x.shape, *geometry),
             back_w(gy, x, w.shape, *geometry))
    old = conv._set_col_budget(3 * 27 * 72 * np.dtype(dtype).itemsize)   # 3 images per chunk
    try:
        chunked = (forward(x, w, b, *geometry), back_x(gy, w, x.shape, *geometry),
                   back_w(gy, x, w.shape, *geometry))
    finally:
        conv._set_col_budget(old)
    for a, e, terms in zip(chunked, whole, (27, 45, 7 * 72)):
        assert_close(a, e, dtype, terms)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wide_cols,team_bytes", [(0, 1 << 40), (512, 1 << 20), (40, 0)])
def test_conv2d_kernels_with_large_weights_match_twin(dtype, wide_cols, team_bytes):
    """A ResNet-deep-layer shape: weights (O, C*k*k) larger than the im2col
    budget, few outputs per image.  Chunks widened for such weights, one team
    instead of several, and the tiled transpose of the weight gradient
    (sizes not multiples of its 32x32 tiles) all give the twin's result."""
    forward, forward_ref = _pair("conv2d_forward")
    back_x, back_x_ref = _pair("conv2d_backward_input")
    back_w, back_w_ref = _pair("conv2d_backward_weight")
    from tinygrad_kr._C import conv
    rng = _rng("large weights", dtype, wide_cols)
    x = rng.standard_normal((6, 150, 2, 3)).astype(dtype)
    w = rng.standard_normal((70, 150, 3, 3)).astype(dtype)      # 70 x 1350: > 256 KiB
    geometry = ((1, 1), (1, 1), (1, 1))
    old_budget = conv._set_col_budget(1 << 18)
    old_wide = conv._set_wide_chunks(wide_cols, team_bytes)
    try:
        y = forward(x, w, None, *geometry)
        gy = rng.standard_normal(y.shape).astype(dtype)
        got = (y, back_x(gy, w, x.shape, *geometry), back_w(gy, x, w.shape, *geometry))
    finally:
        conv._set_wide_chunks(*old_wide)
        conv._set_col_budget(old_budget)
    expected = (forward_ref(x, w, None, *geometry), back_x_ref(gy, w, x.shape, *geometry),
                back_w_ref(gy, x, w.shape, *geometry))
    for a, e, terms in zip(got, expected, (1350, 630, 36)):
        assert a.shape == e.shape and a.flags.c_contiguous
        assert_close(a, e, dtype, terms)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       o=st.integers(1, 4), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2))
def test_conv2d_random_geometry_matches_twin(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw):
    forward, forward_ref = _pair("conv2d_forward")
    back_x, back_x_ref = _pair("conv2d_backward_input")
    back_w, back_w_ref = _pair("conv2d_backward_weight")
    shape, geometry = (n, c, h, w, o, kh, kw), ((sh, sw), (ph, pw), (dh, dw))
    rng, x, wt, b = _conv_case(shape, geometry, np.float64)
    if min(_conv_out(shape, geometry)) < 1:
        with pytest.raises(ValueError, match="larger than the padded input"):
            forward(x, wt, b, *geometry)
        return
    y = forward(x, wt, b, *geometry)
    assert_close(y, forward_ref(x, wt, b, *geometry), np.float64, c * kh * kw)
    gy = rng.standard_normal(y.shape)
    assert_close(back_x(gy, wt, x.shape, *geometry), back_x_ref(gy, wt, x.shape, *geometry),
                 np.float64, o * kh * kw)
    assert_close(back_w(gy, x, wt.shape, *geometry), back_w_ref(gy, x, wt.shape, *geometry),
                 np.float64, max(y.size, 1))


@pytest.mark.parametrize("source", ["compiled", "twin"])
def test_conv2d_kernels_reject_bad_input(source):
    forward, forward_ref = _pair("conv2d_forward")
    back_x, back_x_ref = _pair("conv2d_backward_input")
    back_w, back_w_ref = _pair("conv2d_backward_weight")
    if source == "twin":
        forward, back_x, back_w = forward_ref, back_x_ref, back_w_ref
    x, w = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))
    one = ((1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="3 channels but w"):
        forward(x, np.ones((4, 2, 3, 3)), None, *one)
    with pytest.raises(ValueError, match="larger than the padded input"):
        forward(x, np.ones((4, 3, 6, 3)), None, *one)
    with pytest.raises(ValueError, match="stride >= 1"):
        forward(x, w, None, (0, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="expected x"):
        forward(x[0], w, None, *one)
    with pytest.raises(ValueError):
        back_x(np.ones((2, 4, 2, 2)), w, x.shape, *one)     # gy of the wrong spatial size
    with pytest.raises(ValueError):
        back_w(np.ones((2, 5, 3, 3)), x, w.shape, *one)     # gy with the wrong channels
    if source == "compiled":   # the twin leaves dtype errors to NumPy's promotion
        with pytest.raises(TypeError, match="dtype"):
            forward(x, w.astype(np.float32), None, *one)
        with pytest.raises(TypeError, match="float32 and float64"):
            forward(x.astype(np.int32), w.astype(np.int32), None, *one)
        with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
            forward(x, w, np.ones(3), *one)
        with pytest.raises(TypeError, match="pair of ints"):
            forward(x, w, None, 1, (0, 0), (1, 1))


# ================================================================== pooling

POOL_SHAPES = [(2, 3, 7, 8), (1, 1, 5, 5), (0, 2, 6, 6), (2, 1, 1, 4), (1, 2, 13, 11)]
# stride (2, 2) with kernel (2, 2) and no padding takes the 2x2 fast path.
MAX_GEOMETRY = list(itertools.product([(2, 2), (3, 2), (1, 3)], [(1, 1), (2, 3), (2, 2)],
                                      [(0, 0), (1, 1), (1, 0)], [(1, 1), (2, 1)], [False, True]))
AVG_GEOMETRY = list(itertools.product([(2, 2), (3, 2), (1, 3)], [(1, 1), (2, 3)],
                                      [(0, 0), (1, 1), (1, 0)], [False, True], [False, True],
                                      [None, 3]))


def _max_input(shape, dtype, rng, special):
    """Random x; ``special`` adds -inf rows and NaN columns (the tie/NaN rules)."""
    x = rng.standard_normal(shape).astype(dtype)
    if special and x.size:
        x[..., 0, :] = -np.inf
        x[..., 1:, 0] = np.nan
        x[..., -1, -2:] = 0.5       # a tie
    return x


def _pool_fits(shape, kernel, stride, padding, dilation, ceil_mode):
    from tinygrad_kr.kernels.ref_pool import pool_output_size
    for i in range(2):
        k, p, d = kernel[i], padding[i], dilation[i]
        if p > (d * (k - 1) + 1) // 2:
            return False
        if pool_output_size(shape[2 + i], k, stride[i], p, d, ceil_mode) < 1:
            return False
    return True


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("special", [False, True])
def test_max_pool2d_kernels_match_twins(shape, special, dtype):
    forward, forward_ref = _pair("max_pool2d_forward")
    backward, backward_ref = _pair("max_pool2d_backward")
    rng = _rng(shape, special, dtype)
    x = _max_input(shape, dtype, rng, special)
    for geometry in MAX_GEOMETRY:
        if not _pool_fits(shape, *geometry):
            with pytest.raises(ValueError):
                forward(x, *geometry)
            continue
        y, idx = forward(x, *geometry)
        y_ref, idx_ref = forward_ref(x, *geometry)
        np.testing.assert_array_equal(y, y_ref)             # a max is exact, NaN included
        np.testing.assert_array_equal(idx, idx_ref)
        assert idx.dtype == np.int64 and y.dtype == np.dtype(dtype)
        gy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(backward(gy, idx, x.shape), backward_ref(gy, idx, x.shape), dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_2x2_rows_of_every_width(dtype):
    """The 2x2 / stride-2 fast path runs each output row in blocks of 8
    windows and redoes a row's last 8 when its width is not a multiple of 8
    (rows narrower than 8 run one by one): every width from 1 to 20, with
    ties (few distinct values), NaNs and -inf at random places, equals the
    twin exactly, indices included."""
    forward, forward_ref = _pair("max_pool2d_forward")
    backward, backward_ref = _pair("max_pool2d_backward")
    rng = _rng("2x2 widths", dtype)
    geometry = ((2, 2), (2, 2), (0, 0), (1, 1), False)
    for ow in range(1, 21):
        for w in (2 * ow, 2 * ow + 1):          # an odd width leaves a column out
            x = rng.integers(-2, 3, (2, 3, 6, w)).astype(dtype)
            special = rng.random(x.shape)
            x[special < 0.05] = np.nan
            x[(special >= 0.05) & (special < 0.1)] = -np.inf
            y, idx = forward(x, *geometry)
            y_ref, idx_ref = forward_ref(x, *geometry)
            np.testing.assert_array_equal(y, y_ref)
            np.testing.assert_array_equal(idx, idx_ref)
            gy = rng.standard_normal(y.shape).astype(dtype)
            assert_close(backward(gy, idx, x.shape), backward_ref(gy, idx, x.shape), dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_avg_pool2d_kernels_match_twins(shape, dtype):
    forward, forward_ref = _pair("avg_pool2d_forward")
    backward, backward_ref = _pair("avg_pool2d_backward")
    rng = _rng(shape, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    for kernel, stride, padding, ceil_mode, include_pad, divisor in AVG_GEOMETRY:
        args = (kernel, stride, padding, ceil_mode, include_pad, divisor)
        if not _pool_fits(shape, kernel, stride, padding, (1, 1), ceil_mode):
            with pytest.raises(ValueError):
                forward(x, *args)
            continue
        y = forward(x, *args)
        assert_close(y, forward_ref(x, *args), dtype, 6)
        gy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(backward(gy, x.shape, *args), backward_ref(gy, x.shape, *args), dtype, 6)


def test_max_pool2d_window_without_input_elements():
    """Dilation can make a window miss the input: -inf and index -1, gradient 0."""
    for source in ("compiled", "twin"):
        forward, backward = (kernels.compiled if source == "compiled" else kernels.reference)(
            "max_pool2d_forward"), kernels.reference("max_pool2d_backward")
        if forward is None:
            continue
        x = np.arange(8.0).reshape(2, 1, 1, 4)
        y, idx = forward(x, (2, 2), (1, 1), (1, 1), (2, 1), False)
        assert np.isneginf(y).all() and (idx == -1).all(), source
        gx = backward(np.ones_like(y), idx, x.shape)
        np.testing.assert_array_equal(gx, np.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_kernels_take_noncontiguous_inputs(dtype):
    max_f, _ = _pair("max_pool2d_forward")
    max_b, _ = _pair("max_pool2d_backward")
    avg_f, _ = _pair("avg_pool2d_forward")
    avg_b, _ = _pair("avg_pool2d_backward")
    rng = _rng("nc", dtype)
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    xs = _noncontiguous(x, rng)
    y, idx = max_f(x, (2, 2), (2, 2), (1, 1), (1, 1), True)
    ys, idxs = max_f(xs, (2, 2), (2, 2), (1, 1), (1, 1), True)
    np.testing.assert_array_equal(ys, y)
    np.testing.assert_array_equal(idxs, idx)
    gy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(max_b(_noncontiguous(gy, rng), _noncontiguous(idx, rng),
                                        x.shape), max_b(gy, idx, x.shape))
    args = ((3, 2), (2, 1), (1, 1), True, False, None)
    np.testing.assert_array_equal(avg_f(xs, *args), avg_f(x, *args))
    gy = rng.standard_normal(avg_f(x, *args).shape).astype(dtype)
    np.testing.assert_array_equal(avg_b(_noncontiguous(gy, rng), x.shape, *args),
                                  avg_b(gy, x.shape, *args))


@pytest.mark.parametrize("source", ["compiled", "twin"])
def test_pool_kernels_reject_bad_input(source):
    pick = kernels.compiled if source == "compiled" else kernels.reference
    max_f, max_b = pick("max_pool2d_forward"), pick("max_pool2d_backward")
    avg_f = pick("avg_pool2d_forward")
    if max_f is None:
        unavailable("pool kernels are not compiled")
    x = np.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match="pad should be at most half"):
        max_f(x, (3, 3), (1, 1), (2, 2), (1, 1), False)
    with pytest.raises(ValueError, match="too small"):
        max_f(x, (6, 6), (1, 1), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match="must be positive"):
        max_f(x, (2, 2), (0, 1), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match="4-D"):
        max_f(x[0], (2, 2), (1, 1), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match="divisor_override must be non-zero"):
        avg_f(x, (2, 2), (1, 1), (0, 0), False, True, 0)
    y, idx = max_f(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    with pytest.raises(IndexError, match=r"\[0, 25\)"):
        max_b(y, idx + 25, x.shape)
    with pytest.raises(ValueError, match="do not match"):
        max_b(y, idx, (1, 3, 5, 5))
    if source == "compiled":
        with pytest.raises(TypeError, match="float32 and float64"):
            max_f(x.astype(np.int64), (2, 2), (1, 1), (0, 0), (1, 1), False)
        with pytest.raises(TypeError, match="int64"):
            max_b(y, idx.astype(np.int32), x.shape)


# ================================================== the twins against PyTorch


@pytest.mark.parametrize("shape,geometry", [((2, 3, 9, 7, 4, 3, 2), CONV_GEOMETRY[1]),
                                            ((3, 2, 11, 8, 5, 3, 3), CONV_GEOMETRY[2]),
                                            ((1, 1, 5, 5, 2, 5, 5), CONV_GEOMETRY[0])])
def test_conv2d_twins_match_torch(shape, geometry):
    torch = pytest.importorskip("torch")
    _, x, w, b = _conv_case(shape, geometry, np.float64)
    stride, padding, dilation = geometry
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, torch.tensor(b), stride, padding, dilation)
    gy = _rng("gy", shape).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    ref = kernels.reference
    k = shape[1] * shape[5] * shape[6]
    assert_close(ref("conv2d_forward")(x, w, b, *geometry), ty.detach().numpy(), np.float64, k)
    assert_close(ref("conv2d_backward_input")(gy, w, x.shape, *geometry), tx.grad.numpy(),
                 np.float64, k)
    assert_close(ref("conv2d_backward_weight")(gy, x, w.shape, *geometry), tw.grad.numpy(),
                 np.float64, gy.size)


@pytest.mark.parametrize("geometry", MAX_GEOMETRY[::5])
def test_max_pool2d_twin_matches_torch(geometry):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 7, 8)
    if not _pool_fits(shape, *geometry):
        return
    x = _max_input(shape, np.float64, _rng("torch-max", geometry), special=True)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = torch.nn.functional.max_pool2d(tx, *geometry, return_indices=True)
    gy = _rng("gy", geometry).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    y, idx = kernels.reference("max_pool2d_forward")(x, *geometry)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    assert_close(kernels.reference("max_pool2d_backward")(gy, idx, x.shape), tx.grad.numpy(),
                 np.float64, 4)


@pytest.mark.parametrize("geometry", AVG_GEOMETRY[::7])
def test_avg_pool2d_twin_matches_torch(geometry):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 7, 8)
    kernel, stride, padding, ceil_mode = geometry[:4]
    if not _pool_fits(shape, kernel, stride, padding, (1, 1), ceil_mode):
        return
    x = _rng("torch-avg", geometry).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, *geometry)
    gy = _rng("gy", geometry).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    assert_close(kernels.reference("avg_pool2d_forward")(x, *geometry), ty.detach().numpy(),
                 np.float64, 6)
    assert_close(kernels.reference("avg_pool2d_backward")(gy, x.shape, *geometry),
                 tx.grad.numpy(), np.float64, 6)


# ================================================================== resample2d

def _taps(kind, n_in, n_out, dtype):
    """An axis's taps (see ref_pool): None (kept), or (index, weight) with one
    tap (nearest, a copy), two (linear) or four (cubic)."""
    from tinygrad_kr.nn._ops_conv_extra import _taps as taps
    if kind == "keep":
        return None
    mode = {"corners": "bilinear", "cubic-corners": "bicubic"}.get(kind, kind)
    return taps(mode, n_in, n_out, None, kind.endswith("corners"), dtype, 4)


RESAMPLE = [  # (h kind, OH), (w kind, OW) for a (2, 3, 5, 4) input
    (("bilinear", 9), ("bilinear", 7)), (("corners", 3), ("bilinear", 8)),
    (("keep", 5), ("bilinear", 1)), (("bilinear", 11), ("keep", 4)),
    (("nearest", 10), ("nearest", 3)), (("keep", 5), ("nearest-exact", 9)),
    (("nearest", 2), ("keep", 4)), (("keep", 5), ("keep", 4)), (("bilinear", 5), ("corners", 4)),
    (("bicubic", 12), ("bicubic", 3)), (("cubic-corners", 4), ("bicubic", 9)),
    (("bicubic", 7), ("nearest", 6))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h,w", RESAMPLE)
def test_resample2d_kernels_match_twins(h, w, dtype):
    forward, forward_ref = _pair("resample2d_forward")
    backward, backward_ref = _pair("resample2d_backward")
    rng = _rng("resample", h, w, dtype)
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    taps = (_taps(h[0], 5, h[1], dtype), _taps(w[0], 4, w[1], dtype))
    y = forward(x, *taps)
    assert y.shape == (2, 3, h[1], w[1])
    assert_close(y, forward_ref(x, *taps), dtype, 16)
    assert not np.shares_memory(y, x)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = backward(gy, x.shape, *taps)
    assert_close(gx, backward_ref(gy, x.shape, *taps), dtype, 64)
    # the backward is the forward's adjoint: <forward(x), gy> == <x, backward(gy)>
    assert np.vdot(y, gy) == pytest.approx(np.vdot(x, gx), rel=100 * EPS[dtype])
    np.testing.assert_array_equal(forward(_noncontiguous(x, rng), *taps), y)


def test_resample2d_nearest_copies_inf_and_nan():
    """One tap is a copy: no 0 * inf = NaN from a second tap of weight 0."""
    x = np.array([[[[np.inf, 1.0], [np.nan, -np.inf]]]])
    for forward in (kernels.compiled("resample2d_forward"),
                    kernels.reference("resample2d_forward")):
        if forward is None:
            continue
        y = forward(x, _taps("nearest", 2, 4, np.float64), _taps("nearest", 2, 3, np.float64))
        np.testing.assert_array_equal(y, x[:, :, [0, 0, 1, 1]][:, :, :, [0, 0, 1]])


@pytest.mark.parametrize("source", ["compiled", "twin"])
def test_resample2d_rejects_bad_input(source):
    pick = kernels.compiled if source == "compiled" else kernels.reference
    forward, backward = pick("resample2d_forward"), pick("resample2d_backward")
    if forward is None:
        unavailable("resample2d is not compiled")
    x = np.zeros((1, 2, 3, 4))
    index, weight = _taps("bilinear", 4, 6, np.float64)
    with pytest.raises(IndexError, match=r"w_taps indices must lie in \[0, 4\)"):
        forward(x, None, (index + 1, weight))
    with pytest.raises(IndexError, match=r"h_taps indices must lie in \[0, 3\)"):
        forward(x, (np.array([[-1], [0]]), None), None)
    with pytest.raises(TypeError, match=r"w_taps weight must be a float64 array of the index's "
                                        r"shape \(6, 2\)"):
        forward(x, None, (index, weight.astype(np.float32)))
    with pytest.raises(TypeError, match="w_taps weight must be"):
        forward(x, None, (index, weight[:3]))
    with pytest.raises(TypeError, match="index must be a non-empty 2-D int64 array"):
        forward(x, None, (index[:, 0], None))
    with pytest.raises(ValueError, match="without weights must have one tap"):
        forward(x, None, (index, None))
    with pytest.raises(TypeError, match=r"must be None or a tuple \(index, weight\)"):
        forward(x, None, (index,))
    with pytest.raises(ValueError, match="expected a 4-D input"):
        forward(np.zeros((2, 3, 4)), None, (index, weight))
    with pytest.raises(TypeError, match="float32 and float64"):
        forward(np.zeros((1, 2, 3, 4), np.int64), None, None)
    with pytest.raises(ValueError, match=r"gy has shape \(1, 2, 3, 5\), expected \(1, 2, 3, 6\)"):
        backward(np.zeros((1, 2, 3, 5)), x.shape, None, (index, weight))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("modes", [("bilinear", "bicubic"), ("nearest", "keep"),
                                   ("keep", "bilinear")])
def test_resample2d_on_several_threads(modes, dtype, threads):
    """Planes split over threads, each with its own rows buffer: the same
    values as on one thread (every plane is computed in the same order)."""
    forward, forward_ref = _pair("resample2d_forward")
    backward, _ = _pair("resample2d_backward")
    rng = _rng("resample-threads", modes, dtype)
    x = rng.standard_normal((4, 9, 23, 17)).astype(dtype)
    taps = (_taps(modes[0], 23, 40, dtype), _taps(modes[1], 17, 30, dtype))
    results = []
    for n in (1, 3):
        assert threads(n) == n
        y = forward(x, *taps)
        gy = np.cos(np.arange(y.size, dtype=dtype)).reshape(y.shape)
        results.append((y, backward(gy, x.shape, *taps)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert_close(results[1][0], forward_ref(x, *taps), dtype, 16)

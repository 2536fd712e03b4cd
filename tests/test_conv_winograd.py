"""The Winograd F(2x2, 3x3) path of the compiled convolution kernels
(csrc/conv.pyx, the "Winograd" section) against the NumPy twins
(kernels/ref_conv.py), against the kernels' own im2col path, and, through
F.conv2d, against PyTorch.

3x3 filters, stride and dilation 1, padding 0..2 take that path where the size
rule (_winograd_pays) says it pays; ``conv._use_winograd(2)`` sends every such
convolution there, so that the small and odd shapes below (1x1 maps, one
channel) exercise it too.  ``conv._winograd_calls()`` counts the calls that
took it: each test checks that it went up, so none passes on the im2col path.
Non-finite inputs must leave the path (its transforms turn inf into NaN);
and the wrappers crop kernel taps that read only padding (``_crop_calls``),
tested here too since they decide which geometry reaches either path.

Tolerances as in test_kernels_dense.py: rtol 1e-5 / 1e-12 and an atol that
grows with the square root of the number of products a result sums.
"""
import itertools

import numpy as np
import pytest

import tinygrad_kr.nn.functional as F
from tinygrad_kr import kernels
from cases import check_against_torch, rng_for, torch_one_thread
from needs import unavailable

DTYPES = [np.float32, np.float64]
EPS = {np.float32: 1e-5, np.float64: 1e-12}
NAMES = ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")


@pytest.fixture
def conv():
    """The compiled conv module; restores the Winograd mode afterwards."""
    if kernels.compiled("conv2d_forward") is None:
        unavailable(f"the conv kernels are not compiled ({kernels.build_errors()})")
    from tinygrad_kr._C import conv as module
    before, crop = module._use_winograd(1), module._use_crop(True)
    yield module
    module._use_winograd(before)
    module._use_crop(crop)


def _pairs():
    return [(kernels.compiled(n), kernels.reference(n)) for n in NAMES]


def _close(actual, expected, dtype, terms):
    assert actual.shape == expected.shape and actual.dtype == expected.dtype == np.dtype(dtype)
    assert actual.flags.c_contiguous
    eps = EPS[dtype]
    np.testing.assert_allclose(actual, expected, rtol=eps, atol=eps * np.sqrt(max(terms, 1)))


def _case(N, C, O, H, W, dtype, key=()):
    rng = rng_for("winograd", N, C, O, H, W, dtype, key)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    return rng, x, w, b


def _all_three(conv, x, w, b, gy, geometry):
    """(y, gx, gw) from the compiled kernels; asserts each took the Winograd path."""
    (forward, _), (back_x, _), (back_w, _) = _pairs()
    out = []
    for call in (lambda: forward(x, w, b, *geometry),
                 lambda: back_x(gy, w, x.shape, *geometry),
                 lambda: back_w(gy, x, w.shape, *geometry)):
        before = conv._winograd_calls()
        out.append(call())
        assert conv._winograd_calls() == before + 1, "the Winograd path was not taken"
    return out


def _check_against_twins(conv, N, C, O, H, W, padding, dtype, with_bias=True):
    (_, forward_ref), (_, back_x_ref), (_, back_w_ref) = _pairs()
    rng, x, w, b = _case(N, C, O, H, W, dtype, padding)
    b = b if with_bias else None
    geometry = ((1, 1), padding, (1, 1))
    y_ref = forward_ref(x, w, b, *geometry)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    y, gx, gw = _all_three(conv, x, w, b, gy, geometry)
    _close(y, y_ref, dtype, 9 * C)
    _close(gx, back_x_ref(gy, w, x.shape, *geometry), dtype, 9 * O)
    _close(gw, back_w_ref(gy, x, w.shape, *geometry), dtype, N * y.shape[2] * y.shape[3])


# Every padding pair 0..2 on maps from 1x1 up, odd and even, square or not
# (the last row / column of 2x2 output tiles is ragged on odd output sizes).
# (Combinations without an output, a 1-pixel side with padding 0, are left out.)
MAPS = [(1, 1), (2, 2), (3, 3), (1, 4), (5, 2), (4, 7), (6, 6)]
MAPS_AND_PADDINGS = [((H, W), (ph, pw)) for (H, W), ph, pw in itertools.product(MAPS, range(3), range(3))
                     if H + 2 * ph >= 3 and W + 2 * pw >= 3]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw,padding", MAPS_AND_PADDINGS)
def test_every_padding_and_map_matches_twins(conv, hw, padding, dtype):
    conv._use_winograd(2)
    conv._use_crop(False)     # else 1x1 maps with padding 1 run as 1x1 convolutions
    _check_against_twins(conv, 2, 3, 4, *hw, padding, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C,O", [(1, 1, 1), (1, 1, 5), (3, 6, 1), (1, 17, 9)])
def test_single_image_and_single_channels_match_twins(conv, N, C, O, dtype):
    conv._use_winograd(2)
    for with_bias in (True, False):
        _check_against_twins(conv, N, C, O, 5, 6, (1, 1), dtype, with_bias)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,padding", [((4, 64, 64, 8, 8), (1, 1)),      # a ResNet layer
                                           ((2, 32, 48, 7, 9), (0, 2)),
                                           ((3, 48, 32, 16, 12), (2, 1))])
def test_the_size_rule_picks_winograd_for_wide_layers(conv, shape, padding, dtype):
    """With the default rule, layers with enough channels and outputs take
    the path (each call is counted) and match the twins."""
    assert conv._use_winograd(1) == 1
    N, C, O, H, W = shape
    _check_against_twins(conv, N, C, O, H, W, padding, dtype)


def test_the_size_rule_leaves_other_convolutions_on_im2col(conv):
    (forward, _), (back_x, _), (back_w, _) = _pairs()
    x = np.ones((4, 64, 8, 8), np.float32)
    cases = [(np.ones((64, 64, 5, 5), np.float32), ((1, 1), (2, 2), (1, 1))),   # 5x5
             (np.ones((64, 64, 3, 3), np.float32), ((2, 2), (1, 1), (1, 1))),   # stride 2
             (np.ones((64, 64, 3, 3), np.float32), ((1, 1), (2, 2), (2, 2))),   # dilation 2
             (np.ones((64, 64, 3, 3), np.float32), ((1, 1), (3, 3), (1, 1))),   # padding 3
             (np.ones((2, 64, 3, 3), np.float32), ((1, 1), (1, 1), (1, 1)))]    # 2 outputs
    for w, geometry in cases:
        before = conv._winograd_calls()
        y = forward(x, w, None, *geometry)
        back_x(y, w, x.shape, *geometry)
        back_w(y, x, w.shape, *geometry)
        assert conv._winograd_calls() == before, (w.shape, geometry)


@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_and_im2col_agree(conv, dtype):
    """The same layer on both paths of the compiled kernels."""
    rng, x, w, b = _case(3, 24, 20, 9, 10, dtype, "paths")
    geometry = ((1, 1), (1, 1), (1, 1))
    gy = rng.standard_normal((3, 20, 9, 10)).astype(dtype)
    conv._use_winograd(2)
    winograd = _all_three(conv, x, w, b, gy, geometry)
    conv._use_winograd(0)
    before = conv._winograd_calls()
    (forward, _), (back_x, _), (back_w, _) = _pairs()
    im2col = [forward(x, w, b, *geometry), back_x(gy, w, x.shape, *geometry),
              back_w(gy, x, w.shape, *geometry)]
    assert conv._winograd_calls() == before
    for a, e, terms in zip(winograd, im2col, (9 * 24, 9 * 20, 3 * 90)):
        _close(a, e, dtype, terms)
    with pytest.raises(ValueError, match="mode must be 0, 1 or 2"):
        conv._use_winograd(3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunked_batches_give_the_one_chunk_result(conv, dtype):
    """A budget of one image per chunk: the transforms and GEMMs run chunk
    by chunk, and the weight gradient adds up the chunks' products."""
    rng, x, w, b = _case(5, 20, 12, 7, 6, dtype, "chunks")
    geometry = ((1, 1), (1, 1), (1, 1))
    gy = rng.standard_normal((5, 12, 7, 6)).astype(dtype)
    conv._use_winograd(2)
    whole = _all_three(conv, x, w, b, gy, geometry)
    old = conv._set_winograd_budget(1)
    try:
        chunked = _all_three(conv, x, w, b, gy, geometry)
    finally:
        conv._set_winograd_budget(old)
    for a, e, terms in zip(chunked, whole, (9 * 20, 9 * 12, 5 * 42)):
        _close(a, e, dtype, terms)
    with pytest.raises(ValueError, match="nbytes must be >= 1"):
        conv._set_winograd_budget(0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_on_any_thread_count(conv, dtype):
    """Each of the 16 GEMMs runs on one BLAS thread whatever the team size,
    and the transforms are per tile: the bits do not depend on the threads."""
    from tinygrad_kr import config
    rng, x, w, b = _case(6, 40, 36, 8, 8, dtype, "threads")
    geometry = ((1, 1), (1, 1), (1, 1))
    gy = rng.standard_normal((6, 36, 8, 8)).astype(dtype)
    conv._use_winograd(2)
    before = config.get_num_threads()
    try:
        results = []
        for n in (1, 3):
            config.set_num_threads(n)
            results.append(_all_three(conv, x, w, b, gy, geometry))
    finally:
        config.set_num_threads(before)
    for a, e in zip(*results):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("source", ["compiled", "twin"])
def test_bad_input_raises_as_before(conv, source):
    """Geometries the Winograd path would take still raise the twin's
    errors, before any work."""
    conv._use_winograd(2)
    pairs = _pairs()
    forward, back_x, back_w = (p[0 if source == "compiled" else 1] for p in pairs)
    x, w = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))
    one = ((1, 1), (1, 1), (1, 1))
    before = conv._winograd_calls()
    with pytest.raises(ValueError, match="3 channels but w"):
        forward(x, np.ones((4, 2, 3, 3)), None, *one)
    with pytest.raises(ValueError, match="gy has shape"):
        back_x(np.ones((2, 4, 4, 4)), w, x.shape, *one)
    with pytest.raises(ValueError, match="gy has shape"):
        back_w(np.ones((2, 5, 5, 5)), x, w.shape, *one)
    with pytest.raises(ValueError, match="larger than the padded input"):
        forward(np.ones((2, 3, 1, 1)), w, None, (1, 1), (0, 0), (1, 1))
    if source == "compiled":   # the twin leaves dtype errors to NumPy's promotion
        with pytest.raises(TypeError, match="dtype"):
            forward(x, w.astype(np.float32), None, *one)
        with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
            forward(x, w, np.ones(3), *one)
    assert conv._winograd_calls() == before


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_conv2d_on_the_winograd_path_matches_torch(conv, dtype, padding):
    """F.conv2d (values and all three gradients) on layers the rule sends to
    the Winograd path, also with channel groups (a call per group)."""
    rng = rng_for("winograd-torch", dtype, padding)
    torch = torch_one_thread()
    engine_on_compiled = kernels.conv2d_forward.cpu is conv.conv2d_forward  # not TKR_KERNELS=numpy
    cases = [([rng.standard_normal((2, 64, 9, 10)), rng.standard_normal((64, 64, 3, 3)),
               rng.standard_normal(64)], 1, 3),
             ([rng.standard_normal((4, 64, 8, 8)), rng.standard_normal((64, 32, 3, 3))], 2, 6)]
    for arrays, groups, calls in cases:
        before = conv._winograd_calls()
        check_against_torch(F.conv2d, torch.nn.functional.conv2d, arrays, dtype,
                            9 * 64 // groups, padding=padding, groups=groups)
        assert conv._winograd_calls() == before + (calls if engine_on_compiled else 0)


# ------------------------------------------------------ non-finite inputs
# Winograd's transforms subtract inputs (inf - inf = NaN) and spread a NaN
# over a tile, so the kernels take that path only on finite arrays and
# otherwise im2col, whose inf / NaN pattern is the twin's.

def _poison(a, rng):
    """A copy of a with +inf, -inf and NaN at three distinct random places."""
    a = a.copy()
    flat = a.reshape(-1)
    for value, at in zip((np.inf, -np.inf, np.nan), rng.choice(flat.size, 3, replace=False)):
        flat[at] = value
    return a


def _same_nonfinite(actual, expected, dtype, terms):
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected))
    finite = np.isfinite(expected)
    eps = EPS[dtype]
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=eps,
                               atol=eps * np.sqrt(max(terms, 1)))


# (mode, N, C, O, H, W, padding): the default rule's pick, and mode 2 on a small layer
WINOGRAD_LAYERS = [(1, 4, 64, 64, 8, 8, (1, 1)), (2, 2, 3, 4, 5, 6, (1, 0))]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # the twin on NaN
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", WINOGRAD_LAYERS)
@pytest.mark.parametrize("kernel,poisoned", [(0, "x"), (0, "w"), (1, "gy"), (1, "w"),
                                             (2, "x"), (2, "gy")])
def test_nonfinite_inputs_leave_winograd_and_match_twins(conv, layer, kernel, poisoned, dtype):
    mode, N, C, O, H, W, padding = layer
    conv._use_winograd(mode)
    rng, x, w, b = _case(N, C, O, H, W, dtype, ("nonfinite", kernel, poisoned))
    geometry = ((1, 1), padding, (1, 1))
    gy = rng.standard_normal(kernels.reference("conv2d_forward")(x, w, b, *geometry).shape).astype(dtype)
    (compiled, twin) = _pairs()[kernel]
    terms = (9 * C, 9 * O, N * H * W)[kernel]

    def args(x, w, gy):
        return [(x, w, b), (gy, w, x.shape), (gy, x, w.shape)][kernel] + geometry

    before = conv._winograd_calls()
    finite = compiled(*args(x, w, gy))
    assert conv._winograd_calls() == before + 1, "finite inputs should take the Winograd path"
    _close(finite, twin(*args(x, w, gy)), dtype, terms)
    bad = dict(x=x, w=w, gy=gy)
    bad[poisoned] = _poison(bad[poisoned], rng)
    expected = twin(*args(**bad))
    assert not np.isfinite(expected).all()       # the test means something
    before = conv._winograd_calls()
    actual = compiled(*args(**bad))
    assert conv._winograd_calls() == before, "a non-finite input took the Winograd path"
    _same_nonfinite(actual, expected, dtype, terms)


# ------------------------------------------- taps that read only padding
# The wrappers run the kernels on the taps that read the input (counted by
# _crop_calls).  (H, W, k, padding, stride, dilation, crops): 1x1, 1xN and
# Nx1 maps; a 5x5 cropped to 3x3 on a 2x2 map (mode 2 then takes Winograd);
# and geometries where no tap, or no tap the padding allows, can go.
CROP_CASES = [((1, 1), 3, 1, 1, 1, True), ((1, 1), 3, 2, 1, 1, False),   # p2: all taps read
              ((1, 1), 5, 2, 1, 1, True), ((1, 1), 3, 2, 1, 2, True),
              ((1, 6), 3, 1, 1, 1, True), ((7, 1), 3, 1, 1, 1, True),
              ((1, 5), 5, 2, 2, 1, True), ((6, 1), 5, 2, 1, 1, True),
              ((1, 5), 3, 2, 2, 2, True), ((4, 1), 3, 2, 2, 2, True),
              ((2, 2), 3, 1, 2, 1, True), ((2, 2), 5, 2, 1, 1, True),
              ((1, 1), 5, 2, 2, 1, True), ((5, 5), 3, 1, 1, 1, False),
              ((3, 3), 3, 1, 1, 2, False)]     # only the middle tap reads, but p - d < 0


def _dead_taps(hw, k, padding, stride, dilation):
    """Kernel rows / columns that read only padding, found with the twin's
    windows over an array of ones (independent of the kernels' arithmetic)."""
    from tinygrad_kr.kernels.ref_conv import _windows, conv2d_output_size
    out = [conv2d_output_size(hw[a], k, stride, padding, dilation) for a in range(2)]
    win = _windows(np.ones((1, 1) + hw), (k, k), (stride,) * 2, (padding,) * 2, (dilation,) * 2, out)
    touched = win.sum(axis=(0, 1, 2, 3)) > 0                 # (k, k)
    return ~touched.any(axis=1), ~touched.any(axis=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CROP_CASES, ids=str)
def test_taps_reading_only_padding_are_cropped_and_match_twins(conv, case, dtype):
    hw, k, padding, stride, dilation, crops = case
    dead_rows, dead_cols = _dead_taps(hw, k, padding, stride, dilation)
    if crops:
        assert dead_rows.any() or dead_cols.any()
    conv._use_winograd(2)
    rng = rng_for("crop", case, dtype)
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    w = rng.standard_normal((4, 3, k, k)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    geometry = ((stride,) * 2, (padding,) * 2, (dilation,) * 2)
    (forward, forward_ref), (back_x, back_x_ref), (back_w, back_w_ref) = _pairs()
    y_ref = forward_ref(x, w, b, *geometry)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    before = conv._crop_calls()
    y = forward(x, w, b, *geometry)
    gx = back_x(gy, w, x.shape, *geometry)
    gw = back_w(gy, x, w.shape, *geometry)
    assert conv._crop_calls() == before + (3 if crops else 0)
    _close(y, y_ref, dtype, 3 * k * k)
    _close(gx, back_x_ref(gy, w, x.shape, *geometry), dtype, 4 * k * k)
    _close(gw, back_w_ref(gy, x, w.shape, *geometry), dtype, 2 * y.shape[2] * y.shape[3])
    # the dropped taps' gradient is exactly zero, as the twin's
    assert not gw[:, :, dead_rows, :].any() and not gw[:, :, :, dead_cols].any()


def test_cropped_5x5_on_a_2x2_map_takes_winograd(conv):
    conv._use_winograd(2)
    x, w = np.ones((1, 2, 2, 2)), np.ones((3, 2, 5, 5))
    crops, winograd = conv._crop_calls(), conv._winograd_calls()
    y = kernels.compiled("conv2d_forward")(x, w, None, (1, 1), (2, 2), (1, 1))
    assert (conv._crop_calls(), conv._winograd_calls()) == (crops + 1, winograd + 1)
    np.testing.assert_array_equal(y, np.full((1, 3, 2, 2), 2 * 4.0))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # the twin on NaN
@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_values_the_crop_would_drop_keep_the_twins_nan(conv, dtype):
    """The twin multiplies the dropped taps by padding zeros: an inf there
    makes NaN (forward: in w; weight gradient: in gy), so those calls run
    uncropped; in the input gradient dropped taps only write padding."""
    rng = rng_for("crop-nonfinite", dtype)
    x = rng.standard_normal((2, 3, 1, 1)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    gy = rng.standard_normal((2, 4, 1, 1)).astype(dtype)
    w[1, 2, 0, 0], w[2, 0, 2, 1], w[3, 1, 1, 2] = np.inf, -np.inf, np.nan     # dropped taps
    gy[1, 3, 0, 0] = np.inf
    one = ((1, 1), (1, 1), (1, 1))
    (forward, forward_ref), (back_x, back_x_ref), (back_w, back_w_ref) = _pairs()
    for call, ref, args, crops in [(forward, forward_ref, (x, w, None), 0),
                                   (back_x, back_x_ref, (gy, w, x.shape), 1),
                                   (back_w, back_w_ref, (gy, x, w.shape), 0)]:
        expected = ref(*args, *one)
        assert not np.isfinite(expected).all() or call is back_x
        before = conv._crop_calls()
        _same_nonfinite(call(*args, *one), expected, dtype, 9)
        assert conv._crop_calls() == before + crops


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_on_1x1_maps_matches_torch(conv, dtype):
    """ResNet-18's last stage on 32x32 images: 3x3, padding 1 on 1x1 maps."""
    rng = rng_for("crop-torch", dtype)
    torch = torch_one_thread()
    engine_on_compiled = kernels.conv2d_forward.cpu is conv.conv2d_forward
    before = conv._crop_calls()
    check_against_torch(F.conv2d, torch.nn.functional.conv2d,
                        [rng.standard_normal((3, 16, 1, 1)), rng.standard_normal((8, 16, 3, 3)),
                         rng.standard_normal(8)], dtype, 9 * 16, padding=1)
    assert conv._crop_calls() == before + (3 if engine_on_compiled else 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_finite_scan_finds_every_inf_and_nan(conv, dtype):
    """The scan that guards the Winograd path, in blocks of 16384 elements on
    one thread below 4M elements and on all above: a value at the start,
    the end, a block boundary or the ragged tail is found."""
    for size in (1, 7, 16384, 16385, 3 * 16384 + 5, (1 << 22) + 3):
        a = np.zeros(size, dtype)
        assert conv._is_finite(a)
        for at in sorted({0, size // 2, min(16384, size - 1), size - 1}):
            for value in (np.inf, -np.inf, np.nan):
                a[at] = value
                assert not conv._is_finite(a), (size, at, value)
                a[at] = np.finfo(dtype).max        # the largest finite value passes
                assert conv._is_finite(a)
                a[at] = 0


def test_random_geometries_match_twins_with_and_without_crops(conv):
    """Maps, kernels, padding, stride and dilation drawn at random (float64):
    whatever the crop keeps, the three kernels give the twins' results."""
    rng = rng_for("crop-random")
    (forward, forward_ref), (back_x, back_x_ref), (back_w, back_w_ref) = _pairs()
    cropped = tried = 0
    while tried < 150:
        H, W, kh, kw = rng.integers(1, 6, 4)
        ph, pw, sh, sw, dh, dw = rng.integers(0, 4, 6)
        sh, sw, dh, dw = sh + 1, sw + 1, dh + 1, dw + 1
        if H + 2 * ph < dh * (kh - 1) + 1 or W + 2 * pw < dw * (kw - 1) + 1:
            continue
        tried += 1
        conv._use_winograd(int(rng.integers(0, 3)))
        x, w = rng.standard_normal((2, 2, H, W)), rng.standard_normal((3, 2, kh, kw))
        b = rng.standard_normal(3)
        geometry = ((sh, sw), (ph, pw), (dh, dw))
        before = conv._crop_calls()
        y = forward(x, w, b, *geometry)
        gy = rng.standard_normal(y.shape)
        _close(y, forward_ref(x, w, b, *geometry), np.float64, 2 * kh * kw)
        _close(back_x(gy, w, x.shape, *geometry), back_x_ref(gy, w, x.shape, *geometry),
               np.float64, 3 * kh * kw)
        _close(back_w(gy, x, w.shape, *geometry), back_w_ref(gy, x, w.shape, *geometry),
               np.float64, 2 * y.shape[2] * y.shape[3])
        cropped += conv._crop_calls() > before
    assert cropped >= 10      # the draw covers the crop, not only the full kernels

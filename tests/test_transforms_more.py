"""Augmentation transforms and transforms.functional: exact values from the formulas,
random parameter ranges, batch == per-image, torchvision's messages, and (when
torchvision is installed) deterministic comparisons with torchvision's functional ops."""
import sys
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.random import get_rng
from tinygrad_kr.vision import transforms as T
from tinygrad_kr.vision.transforms import functional as F
from tinygrad_kr.vision.transforms.transforms import _sample_boxes, supports_batches


def rgb(h=6, w=7, dtype=np.uint8, seed=0, c=3):
    """A random tensor-layout image (C, H, W)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (c, h, w))
    return x.astype(dtype) if dtype == np.uint8 else (x / 255).astype(dtype)


def batch(n=6, **kw):
    return np.stack([rgb(seed=k, **kw) for k in range(n)])


def arr(img):
    return img.numpy() if isinstance(img, tk.Tensor) else np.asarray(img)


# -- colour: exact values from the formulas -----------------------------------------

def test_grayscale_weights_truncate_for_uint8():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [100, 100, 100],
                        [255, 255, 255]]], np.uint8)  # PIL-like (1, 5, 3)
    grey = F.rgb_to_grayscale(pixels)
    assert grey.shape == (1, 5, 1) and grey.dtype == np.uint8
    # 0.2989 R + 0.587 G + 0.114 B in float32, truncated: 255 * 0.9999 -> 254
    np.testing.assert_array_equal(grey[..., 0], [[76, 149, 29, 99, 254]])
    x = rgb(dtype=np.float64)
    want = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(arr(F.rgb_to_grayscale(tk.tensor(x)))[0], want, rtol=1e-15)
    three = F.rgb_to_grayscale(tk.tensor(x), 3).numpy()
    assert three.shape == (3, 6, 7) and (three == three[:1]).all()


def test_grayscale_of_one_channel_keeps_tensor_channels_but_pil_gets_three():
    x = rgb(c=1)
    # torchvision's tensor code expands to the input's shape; PIL's convert gives RGB
    assert T.Grayscale(3)(tk.tensor(x)).shape == (1, 6, 7)
    hw = x[0]
    assert T.Grayscale(3)(hw).shape == (6, 7, 3)
    assert T.Grayscale(1)(hw).shape == (6, 7)
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        T.Grayscale(2)(hw)


def test_brightness_scales_clamps_and_truncates():
    x = np.array([[7, 10, 200]], np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(x, 0.5), [[3, 5, 100]])  # 3.5 -> 3
    np.testing.assert_array_equal(F.adjust_brightness(x, 1.5), [[10, 15, 255]])
    f = tk.tensor(np.array([[[0.25, 0.75]]], np.float32))
    np.testing.assert_array_equal(F.adjust_brightness(f, 2.0).numpy(), [[[0.5, 1.0]]])


def test_contrast_blends_with_the_mean_grey():
    x = np.array([[0, 100], [200, 100]], np.uint8)  # one channel, mean 100
    np.testing.assert_array_equal(F.adjust_contrast(x, 0.5), [[50, 100], [150, 100]])
    np.testing.assert_array_equal(F.adjust_contrast(x, 0.0), np.full((2, 2), 100))
    c = rgb()
    mean = np.float32(F.rgb_to_grayscale(tk.tensor(c)).numpy().astype(np.float64).mean())
    want = np.clip(np.float32(1.7) * c + np.float32(1 - 1.7) * mean, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(F.adjust_contrast(tk.tensor(c), 1.7).numpy(), want)


def test_saturation_zero_is_grey_and_one_channel_is_returned_as_is():
    c = tk.tensor(rgb())
    grey = F.rgb_to_grayscale(c).numpy()
    np.testing.assert_array_equal(F.adjust_saturation(c, 0.0).numpy(), np.repeat(grey, 3, 0))
    np.testing.assert_array_equal(F.adjust_saturation(c, 1.0).numpy(), c.numpy())
    one = tk.tensor(rgb(c=1))
    assert F.adjust_saturation(one, 0.3) is one
    assert F.adjust_hue(one, 0.3) is one


@pytest.mark.parametrize("factor, want", [(1 / 3, [0, 255, 0]), (-1 / 3, [0, 0, 255]),
                                          (0.5, [0, 255, 255]), (0.0, [255, 0, 0])])
def test_hue_turns_red_around_the_colour_wheel(factor, want):
    px = np.array([[[255, 0, 0], [128, 128, 128]]], np.uint8)
    out = F.adjust_hue(px, factor)
    np.testing.assert_array_equal(out[0, 0], want)
    np.testing.assert_array_equal(out[0, 1], [128, 128, 128])  # grey has no hue
    f = tk.tensor(px.transpose(2, 0, 1).astype(np.float32) / 255)
    np.testing.assert_allclose(F.adjust_hue(f, factor).numpy()[:, 0, 0], np.array(want) / 255,
                               atol=1e-6)


def test_hue_zero_is_a_float32_round_trip_through_hsv():
    x = rgb(h=5, w=5, dtype=np.float32)
    np.testing.assert_allclose(F.adjust_hue(tk.tensor(x), 0.0).numpy(), x, atol=1e-6)


def test_pixel_ops_exact():
    np.testing.assert_array_equal(F.posterize(np.array([[0b10110111]], np.uint8), 3),
                                  [[0b10100000]])
    np.testing.assert_array_equal(F.solarize(np.array([[200, 100, 128]], np.uint8), 128),
                                  [[55, 100, 127]])
    np.testing.assert_array_equal(F.invert(np.array([[0, 255, 3]], np.uint8)), [[255, 0, 252]])
    np.testing.assert_allclose(F.invert(tk.tensor(np.full((1, 1, 2), 0.25))).numpy(), 0.75)
    # (x - min) * 255 / (max - min), truncated; a flat channel stays as it is
    np.testing.assert_array_equal(F.autocontrast(np.array([[50, 100, 150]], np.uint8)),
                                  [[0, 127, 255]])
    np.testing.assert_array_equal(F.autocontrast(np.full((2, 2), 9, np.uint8)), 9)
    np.testing.assert_array_equal(F.adjust_gamma(np.array([[0, 64, 255]], np.uint8), 2.0),
                                  [[0, 16, 255]])  # (64/255)^2 * 255.999 = 16.1


def test_equalize_maps_through_the_cumulative_histogram():
    # 300 pixels each of 0, 50, 100: step = (900 - 300) // 255 = 2,
    # lut[v] = (cumsum[v - 1] + step // 2) // step: 50 -> 150, 100 -> 300 -> 255
    x = np.repeat(np.array([0, 50, 100], np.uint8), 300).reshape(30, 30)
    out = F.equalize(x)
    np.testing.assert_array_equal(np.unique(out), [0, 150, 255])
    np.testing.assert_array_equal(out[x == 50], 150)
    few = np.array([[0, 0], [128, 255]], np.uint8)  # step 0: unchanged
    np.testing.assert_array_equal(F.equalize(few), few)


def test_sharpness_blends_with_the_smoothed_interior():
    x = np.zeros((3, 3), np.uint8)
    x[1, 1] = 13
    # centre of the degenerate image: 5/13 * 13 = 5; borders are the image's own
    np.testing.assert_array_equal(F.adjust_sharpness(x, 0.0), [[0, 0, 0], [0, 5, 0], [0, 0, 0]])
    assert F.adjust_sharpness(x, 2.0)[1, 1] == 21  # 2 * 13 - 5
    tiny = np.ones((2, 5), np.uint8)
    assert F.adjust_sharpness(tiny, 3.0) is tiny


def test_convert_image_dtype_scales_as_torchvision():
    u8 = tk.tensor(np.array([[[0, 1, 255]]], np.uint8))
    np.testing.assert_allclose(F.convert_image_dtype(u8).numpy(), [[[0, 1 / 255, 1]]], rtol=1e-7)
    np.testing.assert_array_equal(F.convert_image_dtype(u8, tk.int16).numpy(), [[[0, 128, 32640]]])
    f = tk.tensor(np.array([[[0, 0.5, 0.999, 1.0]]], np.float32))
    np.testing.assert_array_equal(T.ConvertImageDtype(tk.uint8)(f).numpy(), [[[0, 127, 255, 255]]])
    i16 = tk.tensor(np.array([[[0, 32767]]], np.int16))
    np.testing.assert_array_equal(F.convert_image_dtype(i16, tk.uint8).numpy(), [[[0, 255]]])
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(f, tk.int32)
    with pytest.raises(TypeError, match="Input img should be Tensor Image"):
        F.convert_image_dtype(np.zeros((2, 2), np.uint8))


# -- filtering and erasing -----------------------------------------------------------

def gaussian(size, sigma):
    t = np.arange(size) - (size - 1) / 2
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def test_gaussian_blur_is_the_separable_kernel_with_reflect_padding():
    impulse = np.zeros((1, 7, 9))
    impulse[0, 3, 4] = 1.0
    out = F.gaussian_blur(tk.tensor(impulse), [3, 5], [0.8, 1.3]).numpy()[0]
    want = np.zeros((7, 9))
    want[1:6, 3:6] = np.outer(gaussian(5, 1.3), gaussian(3, 0.8))  # kernel_size is (kx, ky)
    np.testing.assert_allclose(out, want, atol=1e-15)
    edge = np.zeros((1, 1, 5))
    edge[0, 0, 1] = 1.0  # reflect padding mirrors x[1] to x[-1]
    k = gaussian(3, 1.0)
    np.testing.assert_allclose(F.gaussian_blur(edge, [3, 1], 1.0)[0, 0, :3],
                               [2 * k[0], k[1], k[0]], atol=1e-15)
    flat = np.full((3, 6, 6), 77, np.uint8)  # HWC uint8: a constant stays constant
    np.testing.assert_array_equal(F.gaussian_blur(flat, 5), flat)
    default = F.gaussian_blur(tk.tensor(impulse), 3).numpy()[0]  # sigma = 0.15 * 3 + 0.35
    np.testing.assert_allclose(default[2:5, 3:6], np.outer(gaussian(3, 0.8), gaussian(3, 0.8)),
                               atol=1e-15)


def test_erase_sets_the_box_and_truncates_integer_values():
    x = rgb()
    out = F.erase(tk.tensor(x), 1, 2, 3, 4, tk.tensor(np.array([[[3.7]], [[0.0]], [[250.2]]])))
    want = x.copy()
    want[:, 1:4, 2:6] = np.array([3, 0, 250])[:, None, None]
    np.testing.assert_array_equal(out.numpy(), want)
    t = tk.tensor(x.astype(np.float32))
    assert F.erase(t, 0, 0, 2, 2, 0.5, inplace=True) is t
    assert (t.numpy()[:, :2, :2] == 0.5).all()
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.erase(object(), 0, 0, 1, 1, 0)


def test_random_erasing_boxes_values_and_inplace():
    x = tk.tensor(np.zeros((3, 20, 20), np.float32))
    tk.manual_seed(3)
    out = T.RandomErasing(p=1.0, value=(1, 2, 3))(x).numpy()
    box = out[0] != 0
    rows, cols = np.nonzero(box)
    area = box.sum()
    assert 0.02 * 400 - 30 <= area <= 0.33 * 400 + 30  # scale, up to rounding of each side
    assert area == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a rectangle
    np.testing.assert_array_equal(out[:, box], np.array([[1], [2], [3]]) * np.ones(area))
    assert (x.numpy() == 0).all()
    noisy = T.RandomErasing(p=1.0, value="random")(tk.tensor(np.zeros((2, 16, 16), np.float32)))
    assert (noisy.numpy() != 0).any()
    same = tk.tensor(np.zeros((1, 8, 8), np.float32))
    assert T.RandomErasing(p=1.0, value=1, inplace=True)(same) is same
    assert same.numpy().sum() > 0
    assert T.RandomErasing(p=0.0)(x) is x


def test_random_erasing_gives_up_after_ten_tries_as_torchvision():
    x = tk.tensor(np.zeros((1, 4, 4), np.float32))
    # every box would cover the whole image: torchvision returns the image unchanged
    assert T.RandomErasing(p=1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x) is x
    i, j, h, w, v = T.RandomErasing.get_params(x, (1.0, 1.0), (1.0, 1.0), [0.0])
    assert (i, j, h, w) == (0, 0, 4, 4) and v is x


# -- random parameters: ranges, reproducibility, batch == per image -----------------------

def test_color_jitter_ranges_and_get_params():
    cj = T.ColorJitter(brightness=0.4, contrast=(0.5, 0.5), saturation=0, hue=0.2)
    assert cj.brightness == (0.6, 1.4) and cj.contrast == (0.5, 0.5)
    assert cj.saturation is None and cj.hue == (-0.2, 0.2)
    assert T.ColorJitter(brightness=3).brightness == (0.0, 4.0)  # clipped at 0
    assert T.ColorJitter(hue=(0, 0)).hue is None
    for _ in range(20):
        fn_idx, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation,
                                                      cj.hue)
        assert sorted(int(i) for i in fn_idx) == [0, 1, 2, 3]
        assert 0.6 <= b <= 1.4 and c == 0.5 and s is None and -0.2 <= h <= 0.2


def apply_jitter(img, order, factors):
    ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
    for fn_id in order:
        if factors[fn_id] is not None:
            img = ops[fn_id](img, factors[fn_id])
    return img


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_color_jitter_one_image_follows_get_params(dtype):
    cj = T.ColorJitter(0.5, 0.5, 0.5, 0.1)
    x = tk.tensor(rgb(dtype=dtype))
    tk.manual_seed(11)
    fn_idx, *factors = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
    tk.manual_seed(11)
    out = cj(x)
    np.testing.assert_array_equal(out.numpy(), apply_jitter(x, [int(i) for i in fn_idx],
                                                            factors).numpy())


def test_color_jitter_batch_is_per_image():
    cj = T.ColorJitter(0.5, 0.5, 0.5, 0.1)
    xs = batch(n=8)
    tk.manual_seed(4)
    orders, factors = T.ColorJitter._draw(get_rng(), 8, (cj.brightness, cj.contrast,
                                                         cj.saturation, cj.hue))
    assert len({tuple(o) for o in orders}) > 1  # each image its own order
    tk.manual_seed(4)
    out = cj(tk.tensor(xs)).numpy()
    for k in range(8):
        want = apply_jitter(tk.tensor(xs[k]), orders[k], [f[k] for f in factors])
        np.testing.assert_array_equal(out[k], want.numpy())


def test_random_resized_crop_params_and_fallback():
    img = np.zeros((3, 40, 60))
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= i <= 40 - h and 0 <= j <= 60 - w
        assert 0.2 * 2400 * 0.8 <= h * w <= 0.6 * 2400 * 1.2  # area, up to rounding
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.25
    # no box of 2-3 times the area fits: torchvision's central crop within the ratio range
    wide = np.zeros((1, 10, 20))
    assert T.RandomResizedCrop.get_params(wide, (2.0, 3.0), (0.75, 4 / 3)) == (0, 3, 10, 13)
    tall = np.zeros((1, 20, 10))
    assert T.RandomResizedCrop.get_params(tall, (2.0, 3.0), (0.75, 4 / 3)) == (3, 0, 13, 10)
    square = np.zeros((1, 10, 10))
    assert T.RandomResizedCrop.get_params(square, (2.0, 3.0), (0.75, 4 / 3)) == (0, 0, 10, 10)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_random_resized_crop_batch_is_resized_crop_per_image(mode):
    xs = batch(n=5, h=12, w=15)
    rrc = T.RandomResizedCrop((7, 9), interpolation=T.InterpolationMode(mode))
    tk.manual_seed(8)
    boxes = T.RandomResizedCrop._draw(get_rng(), 5, 12, 15, rrc.scale, rrc.ratio)
    tk.manual_seed(8)
    out = rrc(tk.tensor(xs)).numpy()
    assert out.shape == (5, 3, 7, 9) and out.dtype == np.uint8
    for k in range(5):
        box = [int(b[k]) for b in boxes]
        want = F.resized_crop(xs[k].transpose(1, 2, 0), *box, [7, 9], mode)  # PIL-like too
        np.testing.assert_array_equal(out[k], want.transpose(2, 0, 1))
    tk.manual_seed(8)
    one = rrc(tk.tensor(xs[0])).numpy()
    tk.manual_seed(8)
    np.testing.assert_array_equal(one, rrc(tk.tensor(xs[:1])).numpy()[0])  # a batch of one


def test_gaussian_blur_sigma_range_and_batch():
    gb = T.GaussianBlur((3, 5), sigma=(0.5, 1.5))
    assert gb.kernel_size == (3, 5) and gb.sigma == (0.5, 1.5)
    sigmas = [T.GaussianBlur.get_params(0.5, 1.5) for _ in range(50)]
    assert 0.5 <= min(sigmas) and max(sigmas) <= 1.5
    xs = batch(n=4, dtype=np.float32, h=8, w=8)
    tk.manual_seed(2)
    s = get_rng().uniform(0.5, 1.5, size=4)
    tk.manual_seed(2)
    out = gb(tk.tensor(xs)).numpy()
    for k in range(4):
        np.testing.assert_array_equal(out[k], F.gaussian_blur(xs[k], [3, 5], [s[k], s[k]]))


def test_random_erasing_batch_is_per_image():
    xs = batch(n=6, dtype=np.float32, h=10, w=12)
    er = T.RandomErasing(p=0.7, value=(0.1, 0.2, 0.3))
    tk.manual_seed(5)
    rng = get_rng()
    chosen = rng.random(6) < 0.7
    top, left, h, w, found = _sample_boxes(rng, 6, 10, 12, er.scale, er.ratio, erase=True)
    tk.manual_seed(5)
    out = er(xs)
    for k in range(6):
        want = xs[k]
        if chosen[k] and found[k]:
            want = F.erase(want, top[k], left[k], h[k], w[k],
                           np.array([0.1, 0.2, 0.3], np.float32)[:, None, None])
        np.testing.assert_array_equal(out[k], want)


def test_random_perspective_ranges_and_identity():
    for _ in range(20):
        start, end = T.RandomPerspective.get_params(20, 10, 0.5)
        assert start == [[0, 0], [19, 0], [19, 9], [0, 9]]
        (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = end
        assert 0 <= tlx <= 5 and 0 <= tly <= 2 and 14 <= trx <= 19 and 0 <= try_ <= 2
        assert 14 <= brx <= 19 and 7 <= bry <= 9 and 0 <= blx <= 5 and 7 <= bly <= 9
    x = rgb(dtype=np.float32)
    np.testing.assert_array_equal(T.RandomPerspective(0.0, p=1.0)(x), x)  # corners stay put
    tk.manual_seed(1)
    out = T.RandomPerspective(0.6, p=1.0, fill=0.5)(x)
    assert out.shape == x.shape and not np.array_equal(out, x)


def test_perspective_moves_the_corners():
    x = rgb(dtype=np.float32)
    corners = [[0, 0], [6, 0], [6, 5], [0, 5]]
    np.testing.assert_array_equal(F.perspective(x, corners, corners), x)
    # every corner one pixel right: a shift, the new column filled with 0 (fill None)
    out = F.perspective(x, corners, [[c[0] + 1, c[1]] for c in corners])
    np.testing.assert_allclose(out[..., 1:], x[..., :-1], atol=1e-6)
    np.testing.assert_array_equal(out[..., 0], 0)


def test_get_params_draw_what_the_transform_draws_for_one_image():
    """torchvision's static get_params, for paired image/mask augmentation: after the
    same seed, transform(img) == the functional op with get_params' result."""
    img = tk.tensor(rgb(h=12, w=14, dtype=np.float32))

    def same(transform, by_hand, seed=21):
        tk.manual_seed(seed)
        want = by_hand()
        tk.manual_seed(seed)
        np.testing.assert_array_equal(transform(img).numpy(), want.numpy())

    same(T.RandomCrop(5), lambda: F.crop(img, *T.RandomCrop.get_params(img, (5, 5))))
    same(T.RandomResizedCrop(6), lambda: F.resized_crop(
        img, *T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)), [6, 6]))
    same(T.RandomRotation(30), lambda: F.rotate(img, T.RandomRotation.get_params([-30, 30]),
                                                fill=0))
    affine = T.RandomAffine(20, (0.2, 0.1), (0.8, 1.2), (-5, 5, -3, 3))
    same(affine, lambda: F.affine(img, *T.RandomAffine.get_params(
        affine.degrees, affine.translate, affine.scale, affine.shear, (14, 12)), fill=0))
    same(T.GaussianBlur(5), lambda: F.gaussian_blur(img, 5, T.GaussianBlur.get_params(0.1, 2.0)))

    def perspective():
        get_rng().random()  # the p draw comes first, as torchvision's torch.rand(1) < p
        return F.perspective(img, *T.RandomPerspective.get_params(14, 12, 0.5), fill=0)
    same(T.RandomPerspective(p=1.0), perspective)


@pytest.mark.parametrize("make", [
    lambda: T.ColorJitter(0.4, 0.4, 0.4, 0.1), lambda: T.RandomResizedCrop(5),
    lambda: T.GaussianBlur(3), lambda: T.RandomErasing(1.0, value="random"),
    lambda: T.RandomPerspective(p=1.0), lambda: T.RandomGrayscale(0.5),
    lambda: T.RandomApply([T.RandomInvert(1.0)]), lambda: T.RandomAdjustSharpness(3, 0.5),
    lambda: T.RandomOrder([T.RandomInvert(1.0), T.RandomSolarize(0.5, 1.0)])])
def test_reproducible_under_manual_seed(make):
    xs = tk.tensor(batch(n=4, dtype=np.float32))
    tk.manual_seed(123)
    a = make()(xs).numpy()
    tk.manual_seed(123)
    b = make()(xs).numpy()
    np.testing.assert_array_equal(a, b)
    tk.manual_seed(124)
    c = make()(xs).numpy()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cls, kernel", [
    (T.RandomInvert, F.invert), (T.RandomAutocontrast, F.autocontrast),
    (T.RandomEqualize, F.equalize),
    (lambda p: T.RandomPosterize(2, p), lambda x: F.posterize(x, 2)),
    (lambda p: T.RandomSolarize(90, p), lambda x: F.solarize(x, 90)),
    (lambda p: T.RandomAdjustSharpness(2.5, p), lambda x: F.adjust_sharpness(x, 2.5)),
    (T.RandomGrayscale, lambda x: F.rgb_to_grayscale(x, 3))])
def test_random_pixel_transforms_choose_per_image(cls, kernel):
    xs = batch(n=12)
    tk.manual_seed(6)
    chosen = get_rng().random(12) < 0.5
    tk.manual_seed(6)
    out = cls(0.5)(tk.tensor(xs)).numpy()
    assert 0 < chosen.sum() < 12
    for k in range(12):
        np.testing.assert_array_equal(out[k], kernel(tk.tensor(xs[k])).numpy() if chosen[k]
                                      else xs[k])


# -- containers ------------------------------------------------------------------------

def test_random_apply_per_image():
    xs = batch(n=16).transpose(0, 2, 3, 1)  # PIL-like (N, H, W, C)
    tk.manual_seed(9)
    chosen = get_rng().random(16) <= 0.5
    tk.manual_seed(9)
    out = T.RandomApply([T.RandomInvert(1.0), T.RandomHorizontalFlip(1.0)], p=0.5)(xs)
    for k in range(16):
        want = F.hflip(F.invert(xs[k])) if chosen[k] else xs[k]
        np.testing.assert_array_equal(out[k], want)
    assert T.RandomApply([T.RandomInvert(1.0)], p=0.0)(xs) is xs
    single = rgb().transpose(1, 2, 0)
    np.testing.assert_array_equal(T.RandomApply([T.RandomInvert(1.0)], p=1.0)(single),
                                  F.invert(single))


def test_random_choice_and_order_per_image():
    xs = tk.tensor(batch(n=16, dtype=np.float32))
    inv, sol = T.RandomInvert(1.0), T.RandomSolarize(0.5, 1.0)
    out = T.RandomChoice([inv, sol], p=[1, 3])(xs).numpy()
    picks = [0 if np.array_equal(o, inv(x)) else 1 for o, x in zip(out, xs.numpy())]
    for o, x, pick in zip(out, xs.numpy(), picks):
        np.testing.assert_array_equal(o, (inv if pick == 0 else sol)(x))
    assert 0 < sum(picks) < 16
    orders = T.RandomOrder([inv, sol])(xs).numpy()
    first = [np.array_equal(o, sol(inv(x))) for o, x in zip(orders, xs.numpy())]
    second = [np.array_equal(o, inv(sol(x))) for o, x in zip(orders, xs.numpy())]
    assert all(a or b for a, b in zip(first, second)) and any(first) and any(second)


def test_containers_flags_and_mixed_results():
    assert supports_batches(T.RandomApply([T.ColorJitter(0.1), T.GaussianBlur(3)]))
    assert not supports_batches(T.RandomApply([T.Lambda(lambda x: x)]))
    assert not supports_batches(T.FiveCrop(3)) and not supports_batches(T.ToPILImage())
    for t in (T.ColorJitter(0.1), T.Grayscale(), T.RandomResizedCrop(3), T.RandomErasing(),
              T.GaussianBlur(3), T.PILToTensor(), T.ConvertImageDtype(tk.float32),
              T.RandomPerspective(), T.RandomEqualize()):
        assert supports_batches(t), t
    tk.manual_seed(0)
    with pytest.raises(ValueError, match="cannot be stacked"):
        T.RandomApply([T.ToTensor()], p=0.5)(batch(n=8).transpose(0, 2, 3, 1))
    with pytest.raises(TypeError, match="Argument transforms should be a sequence"):
        T.RandomChoice(T.Grayscale())
    with pytest.raises(TypeError, match="Argument p should be a sequence"):
        T.RandomChoice([T.Grayscale()], p=0.5)


# -- layouts and conversions -------------------------------------------------------------

def test_functional_batch_equals_per_image():
    xs = batch(n=3)
    cases = [lambda x: F.adjust_hue(x, 0.2), lambda x: F.adjust_contrast(x, 1.4),
             lambda x: F.gaussian_blur(x, 5, 1.1), lambda x: F.rotate(x, 20.0, fill=[1, 2, 3]),
             lambda x: F.resized_crop(x, 1, 1, 4, 5, [9, 8]), lambda x: F.equalize(x),
             lambda x: F.affine(x, 10.0, [1, 0], 0.9, 5.0)]
    for f in cases:
        out = f(tk.tensor(xs)).numpy()
        for k in range(3):
            np.testing.assert_array_equal(out[k], f(tk.tensor(xs[k])).numpy())
        hwc = f(xs.transpose(0, 2, 3, 1))  # PIL-like batch
        np.testing.assert_array_equal(hwc.transpose(0, 3, 1, 2), out)


def test_five_and_ten_crop():
    x = np.arange(30, dtype=np.float32).reshape(1, 5, 6)
    tl, tr, bl, br, center = F.five_crop(x, 3)
    np.testing.assert_array_equal(tl, x[:, :3, :3])
    np.testing.assert_array_equal(tr, x[:, :3, 3:])
    np.testing.assert_array_equal(bl, x[:, 2:, :3])
    np.testing.assert_array_equal(br, x[:, 2:, 3:])
    np.testing.assert_array_equal(center, x[:, 1:4, 2:5])  # round((6 - 3) / 2) = 2
    ten = T.TenCrop((2, 3), vertical_flip=True)(x)
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5], x[:, ::-1][:, :2, :3])
    crops = T.FiveCrop(2)(tk.tensor(np.stack([x, x + 1])))  # a batch: 5 batches
    assert all(c.shape == (2, 1, 2, 2) for c in crops)
    with pytest.raises(ValueError, match=r"Requested crop size \(6, 6\) is bigger than input "
                                         r"size \(5, 6\)"):
        F.five_crop(x, 6)


def test_pil_to_tensor_and_layouts():
    hwc = rgb().transpose(1, 2, 0)
    t = T.PILToTensor()(hwc)
    assert t.dtype == tk.uint8 and t.shape == (3, 6, 7)
    np.testing.assert_array_equal(t.numpy(), rgb())
    assert T.PILToTensor()(np.stack([hwc, hwc])).shape == (2, 3, 6, 7)
    with pytest.raises(TypeError, match="pic should be PIL Image"):
        T.PILToTensor()(tk.tensor(rgb()))
    assert F.get_dimensions(hwc) == [3, 6, 7] and F.get_image_size(tk.tensor(rgb())) == [7, 6]


def test_real_pil_images():
    Image = pytest.importorskip("PIL.Image")
    data = rgb(h=10, w=12).transpose(1, 2, 0)
    pil = Image.fromarray(data)
    tests = [T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.Grayscale(), T.RandomGrayscale(1.0),
             T.RandomResizedCrop(8), T.GaussianBlur(3), T.RandomPerspective(p=1.0),
             T.RandomEqualize(1.0), T.RandomErasing(1.0), T.RandomCrop(5), T.Resize(7),
             T.RandomApply([T.RandomInvert(1.0)], 1.0), T.RandomRotation(20)]
    for t in tests:
        tk.manual_seed(1)
        out = t(pil)
        tk.manual_seed(1)
        want = t(data)
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8, t
        np.testing.assert_array_equal(out, want)
    tensor = T.ToTensor()(Image.new("1", (3, 2), 1))  # mode "1": 0/1 floats, as torchvision
    np.testing.assert_array_equal(tensor.numpy(), np.ones((1, 2, 3), np.float32))
    assert T.ToTensor()(Image.new("I;16", (3, 2), 300)).dtype == tk.int16
    back = T.ToPILImage()(T.ToTensor()(pil))
    assert back.mode == "RGB" and back.size == (12, 10)
    np.testing.assert_array_equal(np.asarray(back), data)
    assert F.to_pil_image(np.zeros((4, 5), np.float32), "F").mode == "F"
    assert F.to_pil_image(tk.tensor(np.zeros((2, 4, 5), np.uint8))).mode == "LA"
    assert F.to_pil_image(np.zeros((4, 5, 3), np.uint8), "HSV").mode == "HSV"
    with pytest.raises(ValueError, match="pic should not have > 4 channels"):
        F.to_pil_image(np.zeros((4, 5, 5), np.uint8))
    with pytest.raises(ValueError, match=r"Only modes \['RGBA', 'CMYK', 'RGBX'\]"):
        F.to_pil_image(np.zeros((4, 5, 4), np.uint8), "RGB")


def test_to_pil_image_without_pillow_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="Pillow"):
        T.ToPILImage()(tk.tensor(np.zeros((3, 2, 2), np.float32)))


# -- torchvision's argument checks ----------------------------------------------------------

def test_error_messages_as_torchvision():
    cases = [
        (ValueError, "If brightness is a single number, it must be non negative.",
         lambda: T.ColorJitter(brightness=-1)),
        (ValueError, r"hue values should be between \(-0.5, 0.5\), but got \[-0.6, 0.6\].",
         lambda: T.ColorJitter(hue=0.6)),
        (TypeError, "contrast should be a single number or a list/tuple with length 2.",
         lambda: T.ColorJitter(contrast=(1, 2, 3))),
        (TypeError, "Scale should be a sequence", lambda: T.RandomResizedCrop(4, scale=0.5)),
        (TypeError, "Ratio should be a sequence", lambda: T.RandomResizedCrop(4, ratio=1.0)),
        (ValueError, "Please provide only two dimensions", lambda: T.RandomResizedCrop((1, 2, 3))),
        (ValueError, "If value is str, it should be 'random'", lambda: T.RandomErasing(value="x")),
        (TypeError, "Argument value should be either a number or str or a sequence",
         lambda: T.RandomErasing(value=None)),
        (ValueError, "Scale should be between 0 and 1", lambda: T.RandomErasing(scale=(0, 2))),
        (ValueError, "Random erasing probability should be between 0 and 1",
         lambda: T.RandomErasing(p=2)),
        (ValueError, "If value is a sequence, it should have either a single value or 3",
         lambda: T.RandomErasing(value=(1, 2))(tk.tensor(rgb(dtype=np.float32)))),
        (ValueError, "Kernel size value should be an odd and positive number.",
         lambda: T.GaussianBlur(4)),
        (ValueError, "If sigma is a single number, it must be positive.",
         lambda: T.GaussianBlur(3, -1)),
        (ValueError, r"sigma values should be positive and of the form \(min, max\).",
         lambda: T.GaussianBlur(3, (2, 1))),
        (ValueError, "sigma should be a single number or a list/tuple with length 2.",
         lambda: T.GaussianBlur(3, (1, 2, 3))),
        (ValueError, r"kernel_size should have odd and positive integers. Got \[3, 4\]",
         lambda: F.gaussian_blur(rgb(), [3, 4])),
        (ValueError, r"sigma should have positive values. Got \[0.0, 0.0\]",
         lambda: F.gaussian_blur(rgb(), 3, 0.0)),
        (ValueError, "reflect padding", lambda: F.gaussian_blur(tk.tensor(rgb(h=2, w=2)), 5)),
        (ValueError, r"hue_factor \(0.7\) is not in \[-0.5, 0.5\].",
         lambda: F.adjust_hue(rgb(), 0.7)),
        (ValueError, r"brightness_factor \(-1\) is not non-negative.",
         lambda: F.adjust_brightness(rgb(), -1)),
        (ValueError, r"saturation_factor \(-2\) is not non-negative.",
         lambda: F.adjust_saturation(rgb(), -2)),
        (TypeError, r"Input image tensor permitted channel values are \[1, 3\], but found 4",
         lambda: F.adjust_brightness(tk.tensor(rgb(c=4)), 1.2)),
        (TypeError, r"permitted channel values are \[3, 1\], but found 2",
         lambda: F.adjust_contrast(tk.tensor(rgb(c=2)), 1.2)),
        (TypeError, r"permitted channel values are \[1, 3\], but found 4",
         lambda: T.ColorJitter(0.5)(tk.tensor(rgb(c=4)))),
        (ValueError, "The number if bits should be between 0 and 8. Got 9",
         lambda: F.posterize(rgb(), 9)),
        (TypeError, "Only torch.uint8 image tensors are supported, but found float32",
         lambda: T.RandomPosterize(2)(rgb(dtype=np.float32))),
        (TypeError, "Threshold should be less than bound of img.",
         lambda: F.solarize(rgb(dtype=np.float32), 2.0)),
        (ValueError, "Gamma should be a non-negative real number",
         lambda: F.adjust_gamma(tk.tensor(rgb()), -1)),
        (TypeError, "Argument angle should be int or float", lambda: F.rotate(rgb(), "9")),
        (ValueError, "Argument scale should be positive",
         lambda: F.affine(rgb(), 0, [0, 0], 0.0, 0)),
        (ValueError, "Please provide exactly four corners",
         lambda: F.perspective(rgb(), [[0, 0]], [[0, 0]])),
        (ValueError, r"The number of elements in 'fill' cannot broadcast to match the number of "
                     r"channels of the image \(2 != 3\)",
         lambda: F.rotate(tk.tensor(rgb()), 10.0, fill=[1, 2])),
        (ValueError, "Interpolation mode 'box' is unsupported",
         lambda: T.RandomResizedCrop(4, interpolation=T.InterpolationMode.BOX)),
    ]
    for exc, msg, call in cases:
        with pytest.raises(exc, match=msg):
            call()
    with pytest.warns(UserWarning, match=r"Scale and ratio should be of kind \(min, max\)"):
        T.RandomResizedCrop(4, scale=(1.0, 0.5))


def test_reprs_as_torchvision():
    assert repr(T.ColorJitter(0.4, (0.5, 1.5), 0, 0.1)) == \
        "ColorJitter(brightness=(0.6, 1.4), contrast=(0.5, 1.5), saturation=None, hue=(-0.1, 0.1))"
    assert repr(T.RandomResizedCrop(24)) == ("RandomResizedCrop(size=(24, 24), scale=(0.08, 1.0), "
                                             "ratio=(0.75, 1.3333), interpolation=bilinear, "
                                             "antialias=True)")
    assert repr(T.RandomErasing()) == ("RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3),"
                                       " value=0, inplace=False)")
    assert repr(T.GaussianBlur([3, 5])) == "GaussianBlur(kernel_size=[3, 5], sigma=(0.1, 2.0))"
    assert repr(T.RandomApply([T.Grayscale()], p=0.3)) == \
        "RandomApply(\n    p=0.3\n    Grayscale(num_output_channels=1)\n)"
    assert repr(T.RandomChoice([T.RandomGrayscale()])) == \
        "RandomChoice(\n    RandomGrayscale(p=0.1)\n)(p=None)"
    assert repr(T.RandomOrder([T.RandomInvert()])) == "RandomOrder(\n    RandomInvert(p=0.5)\n)"
    assert repr(T.RandomPosterize(3)) == "RandomPosterize(bits=3,p=0.5)"
    assert repr(T.RandomAdjustSharpness(2)) == "RandomAdjustSharpness(sharpness_factor=2,p=0.5)"
    assert repr(T.ToPILImage("RGB")) == "ToPILImage(mode=RGB)"
    assert repr(T.ConvertImageDtype(tk.float32)) == "ConvertImageDtype()"
    assert repr(T.TenCrop(3, True)) == "TenCrop(size=(3, 3), vertical_flip=True)"
    assert repr(T.RandomPerspective()) == "RandomPerspective(p=0.5)"


# -- torchvision as the oracle (skipped without it) --------------------------------------------

@pytest.fixture(scope="module")
def tv():
    torchvision = pytest.importorskip("torchvision")
    import torch
    return torch, torchvision.transforms.functional, torchvision.transforms


def close(ours, theirs, dtype):
    """uint8: equal, but for rare one-step differences where torch's fused multiply-adds
    break an exact .5 tie of resampling the other way; floats: to rounding."""
    ours = ours.numpy() if isinstance(ours, tk.Tensor) else np.asarray(ours)
    theirs = theirs.numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if dtype == np.uint8:
        diff = np.abs(ours.astype(int) - theirs.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() <= 0.02
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("channels", [3, 1])
def test_colour_ops_match_torchvision(tv, dtype, channels):
    torch, TVF, _ = tv
    x = rgb(h=9, w=11, dtype=dtype, c=channels, seed=3)
    t, ours = torch.from_numpy(x), tk.tensor(x)
    exact = np.testing.assert_array_equal if dtype == np.uint8 else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7))
    for factor in (0.0, 0.4, 1.0, 1.8):
        exact(F.adjust_brightness(ours, factor).numpy(), TVF.adjust_brightness(t, factor).numpy())
        exact(F.adjust_contrast(ours, factor).numpy(), TVF.adjust_contrast(t, factor).numpy())
        exact(F.adjust_saturation(ours, factor).numpy(), TVF.adjust_saturation(t, factor).numpy())
        exact(F.adjust_sharpness(ours, factor).numpy(), TVF.adjust_sharpness(t, factor).numpy())
    for hue in (-0.5, -0.21, 0.0, 0.13, 0.5):
        exact(F.adjust_hue(ours, hue).numpy(), TVF.adjust_hue(t, hue).numpy())
    for n in (1, 3):
        exact(F.rgb_to_grayscale(ours, n).numpy(), TVF.rgb_to_grayscale(t, n).numpy())
    exact(F.adjust_gamma(ours, 2.2, 0.9).numpy(), TVF.adjust_gamma(t, 2.2, 0.9).numpy())
    exact(F.invert(ours).numpy(), TVF.invert(t).numpy())
    exact(F.autocontrast(ours).numpy(), TVF.autocontrast(t).numpy())
    threshold = 128 if dtype == np.uint8 else 0.5
    exact(F.solarize(ours, threshold).numpy(), TVF.solarize(t, threshold).numpy())
    if dtype == np.uint8:
        exact(F.equalize(ours).numpy(), TVF.equalize(t).numpy())
        exact(F.posterize(ours, 3).numpy(), TVF.posterize(t, 3).numpy())


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_blur_erase_and_geometry_match_torchvision(tv, dtype):
    torch, TVF, _ = tv
    x = rgb(h=9, w=11, dtype=dtype, seed=4)
    t, ours = torch.from_numpy(x), tk.tensor(x)
    for ks, sigma in (((3, 3), None), ((5, 3), (1.2, 0.7)), ((3, 7), 2.0), (9, 0.5)):
        close(F.gaussian_blur(ours, ks, sigma), TVF.gaussian_blur(t, ks, sigma), dtype)
    v = torch.tensor([0.5, 0.25, 1.0])[:, None, None]
    close(F.erase(ours, 1, 2, 3, 4, tk.tensor(v.numpy())), TVF.erase(t, 1, 2, 3, 4, v), dtype)
    for box in ((1, 2, 5, 6), (0, 0, 9, 11), (3, 1, 4, 8), (-1, 2, 6, 12)):
        for size in ((7, 5), (12, 13), [4]):
            for mode in ("bilinear", "bicubic", "nearest", "nearest-exact"):
                for aa in (True, False):
                    tmode = getattr(TVF.InterpolationMode, mode.upper().replace("-", "_"))
                    close(F.resized_crop(ours, *box, size, mode, aa),
                          TVF.resized_crop(t, *box, list(size), tmode, antialias=aa), dtype)
    corners = [[0, 0], [10, 0], [10, 8], [0, 8]], [[1, 2], [9, 0], [10, 7], [2, 6]]
    for mode in ("nearest", "bilinear"):
        tmode = getattr(TVF.InterpolationMode, mode.upper())
        for fill in (None, 0, [0.2, 0.5, 1.0]):
            close(F.rotate(ours, 33.0, mode, True, [2, 3], fill),
                  TVF.rotate(t, 33.0, tmode, True, [2, 3], fill), dtype)
            close(F.affine(ours, 12.0, [1, -2], 1.1, [5.0, -3.0], mode, fill),
                  TVF.affine(t, 12.0, [1, -2], 1.1, [5.0, -3.0], tmode, fill), dtype)
            close(F.perspective(ours, *corners, mode, fill),
                  TVF.perspective(t, *corners, tmode, fill), dtype)
    for a, b in zip(F.ten_crop(ours, (4, 5), True), TVF.ten_crop(t, [4, 5], True)):
        close(a, b, dtype)


def test_deterministic_classes_match_torchvision(tv):
    torch, TVF, TVT = tv
    x = rgb(h=12, w=16, seed=5)
    t, ours = torch.from_numpy(x), tk.tensor(x)
    pairs = [(T.ColorJitter(brightness=(1.3, 1.3)), TVT.ColorJitter(brightness=(1.3, 1.3))),
             (T.ColorJitter(hue=(0.2, 0.2)), TVT.ColorJitter(hue=(0.2, 0.2))),
             (T.Grayscale(3), TVT.Grayscale(3)), (T.RandomGrayscale(1.0), TVT.RandomGrayscale(1.0)),
             (T.RandomResizedCrop((6, 8), scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3)),
              TVT.RandomResizedCrop((6, 8), scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3))),
             (T.GaussianBlur(5, 1.5), TVT.GaussianBlur(5, 1.5)),
             (T.RandomErasing(1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0)),
              TVT.RandomErasing(1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))),
             (T.RandomEqualize(1.0), TVT.RandomEqualize(1.0)),
             (T.ConvertImageDtype(tk.float32), TVT.ConvertImageDtype(torch.float32))]
    for ours_t, theirs_t in pairs:
        close(ours_t(ours), theirs_t(t), np.uint8 if x.dtype == np.uint8 else np.float32)
        assert repr(ours_t).replace("tinygrad_kr.", "") == repr(theirs_t).replace("torch.", "")


def test_reprs_match_torchvision(tv):
    torch, _, TVT = tv
    pairs = [(T.ColorJitter(0.4, (0.5, 1.5), 0, 0.1), TVT.ColorJitter(0.4, (0.5, 1.5), 0, 0.1)),
             (T.RandomResizedCrop([24, 20], scale=(0.2, 1.0)),
              TVT.RandomResizedCrop([24, 20], scale=(0.2, 1.0))),
             (T.RandomErasing(0.3, value="random"), TVT.RandomErasing(0.3, value="random")),
             (T.GaussianBlur((3, 5), 1.5), TVT.GaussianBlur((3, 5), 1.5)),
             (T.RandomChoice([T.RandomHorizontalFlip(), T.Grayscale()], [1, 2]),
              TVT.RandomChoice([TVT.RandomHorizontalFlip(), TVT.Grayscale()], [1, 2])),
             (T.RandomOrder([T.RandomVerticalFlip()]), TVT.RandomOrder([TVT.RandomVerticalFlip()])),
             (T.RandomApply([T.ColorJitter(0.1)], p=0.3),
              TVT.RandomApply([TVT.ColorJitter(0.1)], p=0.3)),
             (T.FiveCrop(3), TVT.FiveCrop(3)), (T.PILToTensor(), TVT.PILToTensor()),
             (T.ToPILImage(), TVT.ToPILImage()), (T.RandomSolarize(100, 0.2),
                                                  TVT.RandomSolarize(100, 0.2)),
             (T.RandomAutocontrast(), TVT.RandomAutocontrast()),
             (T.RandomRotation(10, center=(1, 2)), TVT.RandomRotation(10, center=(1, 2))),
             (T.RandomAffine(5, (0.1, 0.1), center=(1, 2)),
              TVT.RandomAffine(5, (0.1, 0.1), center=(1, 2)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs in pairs:
            assert repr(ours) == repr(theirs)

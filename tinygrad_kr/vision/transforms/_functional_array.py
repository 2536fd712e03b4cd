"""Image kernels on (N, C, H, W) numpy arrays: torchvision's _functional_tensor, batched.

Every kernel takes a whole batch, and its per-image parameters as (N,) arrays
(a scalar stands for every image), so a random transform draws the parameters
of a batch in one call and applies them in one pass; the public functions in
``functional`` call the same kernels with N = 1.

Arithmetic follows torchvision's tensor code, dtype by dtype: integer images
are computed in float32 (float images in their own dtype) and cast back
rounded after resampling and filtering, truncated after a colour blend (its
``_blend`` ends in ``.to(dtype)``). This module also holds the layout helpers
that turn any accepted image into (N, C, H, W) and back.
"""
import numpy as np
from scipy import ndimage

from ...tensor import Tensor

# -- layouts ---------------------------------------------------------------------


def host(a):
    return a if a.__class__ is np.ndarray else a.get()


def is_pil_like(img):
    return not isinstance(img, (Tensor, np.ndarray)) and \
        (hasattr(img, "__array_interface__") or hasattr(img, "__array__"))


# PIL modes whose pixels torchvision's to_tensor reads with a dtype of its own
# (Pillow gives uint16 for "I;16", which has no tensor dtype here)
_PIL_MODE_DTYPES = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}


def pil_array(pic):
    """A PIL-like object as a numpy array (H, W[, C]), with torchvision's dtypes:
    mode "1" becomes uint8 0/255, "I;16" int16, "I" int32, "F" float32."""
    mode = getattr(pic, "mode", None)
    if mode == "1":
        return np.asarray(pic, dtype=np.uint8) * np.uint8(255)
    if mode in _PIL_MODE_DTYPES:
        return np.array(pic, dtype=_PIL_MODE_DTYPES[mode])
    return np.asarray(pic)


def image_ndim(img):
    """Number of dimensions of an image or batch, without converting it."""
    if isinstance(img, (Tensor, np.ndarray)):
        return img.ndim
    return pil_array(img).ndim if is_pil_like(img) else -1


def unpack(img):
    """``(x, pack)``: x is img as an (N, C, H, W) numpy array (a view where it can
    be); ``pack(y)`` puts an (N, C', h, w) result back into img's layout and type.

    A single-channel (H, W) image given back more channels (Grayscale(3)) comes
    back as (H, W, C) if it was PIL-like, else (C, H, W).
    """
    if isinstance(img, Tensor):
        arr, channels_last = host(img.array), False
    elif isinstance(img, np.ndarray):
        arr, channels_last = img, img.dtype == np.uint8
    elif is_pil_like(img):
        arr, channels_last = pil_array(img), True
    else:
        raise TypeError(f"img should be a Tensor, a numpy array or a PIL-like image, got "
                        f"{type(img).__name__}")
    nd = arr.ndim
    if nd not in (2, 3, 4):
        layout = "(H, W[, C]) image or an (N, H, W, C) batch" if channels_last \
            else "(C, H, W) image or an (N, C, H, W) batch"
        raise ValueError(f"expected a {layout}, got shape {tuple(arr.shape)}")
    if nd == 2:
        x = arr[None, None]
    elif channels_last:
        x = arr.transpose(2, 0, 1)[None] if nd == 3 else arr.transpose(0, 3, 1, 2)
    else:
        x = arr[None] if nd == 3 else arr

    def back(y):
        if nd == 4:
            return y.transpose(0, 2, 3, 1) if channels_last else y
        if nd == 2 and y.shape[1] == 1:
            return y[0, 0]
        return y[0].transpose(1, 2, 0) if channels_last else y[0]

    def pack(y):
        out = np.array(back(y)) if channels_last and not isinstance(img, np.ndarray) \
            else np.ascontiguousarray(back(y))  # a PIL image's array is read-only: copy it
        if isinstance(img, Tensor):
            t = Tensor(out)
            return t if img.array.__class__ is np.ndarray else t.to(img.device)
        return out
    return x, pack


# -- dtypes ----------------------------------------------------------------------

def work_dtype(dtype):
    """The dtype torchvision computes in: float images in their own, the rest in float32."""
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def max_value(dtype):
    """torchvision's _max_value: the top of the dtype's pixel range (1 for floats)."""
    return np.iinfo(dtype).max if dtype.kind in "iu" else 1


def cast_round(y, dtype):
    """A float result back in the image's dtype: integers rounded (half to even) and clipped."""
    if dtype.kind == "f":
        return y.astype(dtype, copy=False)
    if dtype == np.bool_:
        return y >= 0.5
    info = np.iinfo(dtype)
    return np.clip(np.round(y), info.min, info.max).astype(dtype)


def clamp_cast(y, dtype):
    """A float result clamped to [0, bound] and cast to ``dtype``: integers are
    truncated, as torch's ``.clamp(0, bound).to(dtype)``."""
    return np.clip(y, 0, max_value(dtype)).astype(dtype, copy=False)


def per_image(values, n, dtype):
    """Scalar or (N,) parameters as an (N, 1, 1, 1) array of ``dtype``."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.broadcast_to(v, (n,)).astype(dtype).reshape(n, 1, 1, 1)


def channel_fill(fill, channels, dtype):
    """fill as a (1, C, 1, 1) array: a number, or one value per channel."""
    values = np.asarray(fill, dtype=np.float64).reshape(-1)
    if values.size not in (1, channels):
        raise ValueError(f"The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({values.size} != {channels})")
    return np.broadcast_to(values, (channels,)).reshape(1, channels, 1, 1).astype(dtype)


def convert_dtype(x, dtype):
    """torchvision's convert_image_dtype: rescale between integer and float ranges."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "f":
        if dtype.kind == "f":
            return x.astype(dtype)
        if (x.dtype == np.float32 and dtype in (np.int32, np.int64)) or \
                (x.dtype == np.float64 and dtype == np.int64):
            raise RuntimeError(f"The cast from {x.dtype} to {dtype} cannot be performed safely.")
        # max + 1 - eps: floats in [0, 1) spread evenly over the integers, 1.0 -> max
        scaled = x * x.dtype.type(max_value(dtype) + 1.0 - 1e-3)
        info = np.iinfo(dtype)
        return np.clip(scaled, info.min, info.max).astype(dtype)
    in_max = max_value(x.dtype)
    if dtype.kind == "f":
        return x.astype(dtype) / dtype.type(in_max)
    out_max = max_value(dtype)
    if in_max > out_max:
        return (x // ((in_max + 1) // (out_max + 1))).astype(dtype)
    return x.astype(dtype) * dtype.type((out_max + 1) // (in_max + 1))


def check_channels(x, permitted):
    c = x.shape[1]
    if c not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {permitted}, but "
                        f"found {c}")


# -- geometry --------------------------------------------------------------------

_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def pad(x, ltrb, fill=0, padding_mode="constant"):
    """Pad an (N, C, H, W) array by (left, top, right, bottom)."""
    left, top, right, bottom = ltrb
    if min(ltrb) < 0:
        raise ValueError(f"padding must be non-negative, got {ltrb}")
    if not any(ltrb):
        return x
    n, c, h, w = x.shape
    if padding_mode == "constant":
        out = np.empty((n, c, h + top + bottom, w + left + right), x.dtype)
        out[...] = channel_fill(fill, c, x.dtype)
        out[:, :, top:top + h, left:left + w] = x
        return out
    if padding_mode == "reflect" and (max(left, right) >= w or max(top, bottom) >= h):
        raise ValueError(f"reflect padding {ltrb} must be smaller than the image size {(h, w)}")
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)),
                  mode=_PAD_MODES[padding_mode])


def crop(x, top, left, height, width):
    """torchvision's crop: the part of the box outside the image is zero."""
    h, w = x.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        ltrb = (max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                max(right - max(w, left), 0), max(bottom - max(h, top), 0))
        return pad(x[..., max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)], ltrb, 0)
    return x[..., top:bottom, left:right]


def crop_windows(x, top, left, th, tw):
    """Crop image k of x at (top[k], left[k]) with size (th, tw): one fancy index."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (th, tw), axis=(2, 3))
    return windows[np.arange(len(x)), :, top, left]  # (N, C, th, tw)


def _cubic1(x, a):  # torch's cubic_convolution1, for |x| <= 1
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x, a):  # cubic_convolution2, for 1 < |x| < 2
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _nearest_index(in_size, out_size, exact=False):
    """(N, out) source indices of torch's 'nearest' ('nearest-exact') for N input sizes.

    Its scale is float32: floor(dst * scale) with exact shortcuts for out == in
    and out == 2 * in; nearest-exact is floor((dst + 0.5) * scale).
    """
    in_size = np.asarray(in_size).reshape(-1, 1)
    dst = np.arange(out_size)
    scale = in_size.astype(np.float32) / np.float32(out_size)
    if exact:
        src = np.floor(((dst + 0.5) * scale.astype(np.float64)).astype(np.float32))
        return np.minimum(src.astype(np.intp), in_size - 1)
    src = np.floor(dst.astype(np.float32) * scale).astype(np.intp)
    src = np.where(in_size == out_size, dst, np.where(2 * in_size == out_size, dst >> 1, src))
    return np.minimum(src, in_size - 1)


def resize_taps(in_size, out_size, mode, antialias, dtype):
    """torch's interpolate(align_corners=False) along one axis, for N input lengths, as taps:
    ``(index, weight)``, each (N, out_size, K); output o reads sum_k weight * x[index].

    Computed in ``dtype`` step by step as torch's CPU kernels (float32 for
    float32 and integer images), so that exact .5 ties round as torch's do.
    """
    f = np.dtype(dtype).type
    size = np.asarray(in_size).reshape(-1, 1, 1)
    i = np.arange(out_size).reshape(1, -1, 1)
    scale = size.astype(dtype) / f(out_size)
    if antialias:  # torch's _compute_weights_aa: the filter stretched by the downscale factor
        half_taps = 1.0 if mode == "bilinear" else 2.0
        support = np.where(scale >= 1, f(half_taps) * scale, f(half_taps))
        center = (scale.astype(np.float64) * (i + 0.5)).astype(dtype)
        invscale = np.where(scale >= 1, (1.0 / scale.astype(np.float64)).astype(dtype), f(1))
        # (float - float) + 0.5 is a double in torch's C++: the same here
        lo = np.maximum(np.trunc((center - support).astype(np.float64) + 0.5), 0).astype(np.intp)
        hi = np.minimum(np.trunc((center + support).astype(np.float64) + 0.5).astype(np.intp),
                        size)
        index = lo + np.arange(int((hi - lo).max()))
        arg = (index.astype(dtype) - center).astype(np.float64) + 0.5
        arg = np.abs((arg * invscale.astype(np.float64)).astype(dtype))
        if mode == "bilinear":
            weight = np.where(arg < 1, f(1) - arg, f(0))
        else:
            a = f(-0.5)
            weight = np.where(arg < 1, _cubic1(arg, a), np.where(arg < 2, _cubic2(arg, a), f(0)))
        weight = np.where(index < hi, weight, f(0))
        total = weight[..., 0]
        for k in range(1, weight.shape[-1]):
            total = total + weight[..., k]
        weight = weight / np.where(total == 0, f(1), total)[..., None]
        return np.minimum(index, size - 1), weight
    src = scale * (i.astype(dtype) + f(0.5)) - f(0.5)
    if mode == "bilinear":
        src = np.maximum(src, f(0))  # torch clamps the linear source index (not the cubic one)
    base = np.minimum(np.floor(src).astype(np.intp), size - 1)
    lam = np.clip(src - base.astype(dtype), f(0), f(1))
    if mode == "bilinear":
        same = size == out_size  # torch copies when the length does not change
        lam = np.where(same, f(0), lam)
        base = np.where(same, i, base)
        return np.concatenate([base, base + (base < size - 1)], axis=-1), \
            np.concatenate([f(1) - lam, lam], axis=-1)
    a, rest = f(-0.75), f(1) - lam
    weight = np.concatenate([_cubic2(lam + f(1), a), _cubic1(lam, a), _cubic1(rest, a),
                             _cubic2(rest + f(1), a)], axis=-1)
    return np.clip(base - 1 + np.arange(4), 0, size - 1), weight


def _resample(x, index, weight, offset, axis):
    """Sum over taps k of weight[n, o, k] * x[n, ..., offset[n] + index[n, o, k]] along axis
    (2: rows, 3: columns), accumulated tap by tap as torch's kernels."""
    index = index + np.asarray(offset).reshape(-1, 1, 1)
    out = None
    for k in range(index.shape[-1]):
        if axis == 3:
            idx, w = index[:, None, None, :, k], weight[:, None, None, :, k]
        else:
            idx, w = index[:, None, :, k, None], weight[:, None, :, k, None]
        term = np.take_along_axis(x, idx, axis=axis) * w
        out = term if out is None else out + term
    return out


def resize(x, out_h, out_w, mode, antialias):
    """Resize every image of x to (out_h, out_w): torch's interpolate, align_corners=False."""
    h, w = x.shape[-2:]
    if (out_h, out_w) == (h, w):
        return x
    return resized_crop(x, 0, 0, h, w, out_h, out_w, mode, antialias)


def resized_crop(x, top, left, height, width, out_h, out_w, mode, antialias):
    """Crop image n at (top[n], left[n], height[n], width[n]) and resize it to (out_h, out_w).

    The boxes must lie inside the image. The arithmetic is torch's CPU kernels'
    step by step (float32 for integer images), so that results are bit-equal
    to torchvision's where torch runs without fused multiply-adds
    (ATEN_CPU_CAPABILITY=default) and exact .5 ties of uint8 round alike.
    """
    n = len(x)
    top, left, height, width = (np.broadcast_to(np.asarray(v).reshape(-1), (n,))
                                for v in (top, left, height, width))
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        rows = top[:, None] + _nearest_index(height, out_h, exact)
        cols = left[:, None] + _nearest_index(width, out_w, exact)
        y = x[np.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        return np.moveaxis(y, -1, 1)  # (N, oh, ow, C) -> (N, C, oh, ow)
    work = work_dtype(x.dtype)
    y = x.astype(work, copy=False)
    rows, row_w = resize_taps(height, out_h, mode, antialias, work)
    cols, col_w = resize_taps(width, out_w, mode, antialias, work)
    if mode == "bilinear" and not antialias:
        # torch's cpu_upsample_linear: sum of (h_weight * w_weight) * pixel over the 4 taps
        rows, cols = rows + top[:, None, None], cols + left[:, None, None]
        batch = np.arange(n)[:, None, None]
        out = None
        for i in range(2):
            for j in range(2):
                v = np.moveaxis(y[batch, :, rows[:, :, i, None], cols[:, None, :, j]], -1, 1)
                term = (row_w[:, None, :, i, None] * col_w[:, None, None, :, j]) * v
                out = term if out is None else out + term
        return cast_round(out, x.dtype)
    y = _resample(y, cols, col_w, left, axis=3)  # columns first, as torch's kernels
    y = _resample(y, rows, row_w, top, axis=2)
    return cast_round(y, x.dtype)


def inverse_affine(center, angle, translate, scale, shear):
    """torchvision's _get_inverse_affine_matrix, vectorised over images.

    Every argument may hold (N,) arrays. Returns (N, 6): the map from output
    coordinates to input coordinates, both relative to the image centre.
    M = T * C * R(angle) * S(scale) * SHy * SHx * C^-1, inverted.
    """
    rot = np.radians(angle)
    sx, sy = np.radians(shear[0]), np.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    m2 = m0 * (-cx - tx) + m1 * (-cy - ty) + cx
    m5 = m3 * (-cx - tx) + m4 * (-cy - ty) + cy
    return np.stack(np.broadcast_arrays(m0, m1, m2, m3, m4, m5), axis=-1).reshape(-1, 6)


def affine_output_size(theta, w, h):
    """torchvision's _compute_affine_output_size (rotate with expand=True): (w, h).

    In float32, as torchvision computes it: in float64, trunc(x / 1e-4) * 1e-4
    lands 2e-15 above an integer x (1e-4 is not exact), and a 90-degree turn
    got one row or column too many.
    """
    f32 = np.float32
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=f32)
    new_pts = pts @ theta.reshape(2, 3).T.astype(f32)
    shift = np.array([w * 0.5, h * 0.5], dtype=f32)
    lo = new_pts.min(axis=0) + shift
    hi = new_pts.max(axis=0) + shift
    tol = f32(1e-4)  # truncate so that 1e-7 above an integer does not ceil to the next one
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def sample(x, src_x, src_y, mode, fill):
    """Read each image of x (N, C, H, W) at positions (N, oh, ow), in input pixel indices.

    grid_sample(align_corners=False, padding zeros); the area outside the
    input is blended with ``fill`` through a sampled all-ones mask, exactly as
    torchvision's _apply_grid_transform (fill None: no blending, zeros outside).
    """
    n, c, h, w = x.shape
    work = work_dtype(x.dtype)
    blend_fill = fill is not None
    fill = channel_fill(0 if fill is None else fill, c, work)
    batch = np.arange(n)[:, None, None]

    def tap(iy, ix):
        """Pixel values (N, C, oh, ow) at integer positions, and (N, 1, oh, ow) in-bounds mask."""
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        v = x[batch, :, np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]  # (N, oh, ow, C)
        return np.moveaxis(v, -1, 1).astype(work, copy=False), inside[:, None]

    if mode == "nearest":  # grid_sample rounds half to even, as np.rint
        v, inside = tap(np.rint(src_y).astype(np.intp), np.rint(src_x).astype(np.intp))
        return cast_round(np.where(inside, v, fill), x.dtype)
    x0, y0 = np.floor(src_x), np.floor(src_y)
    fx, fy = (src_x - x0).astype(work)[:, None], (src_y - y0).astype(work)[:, None]
    x0, y0 = x0.astype(np.intp), y0.astype(np.intp)
    acc = np.zeros((n, c) + src_x.shape[1:], work)
    mask = np.zeros((n, 1) + src_x.shape[1:], work)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            v, inside = tap(y0 + dy, x0 + dx)
            weight = wy * wx * inside
            acc += weight * v
            mask += weight
    return cast_round(acc * mask + (1 - mask) * fill if blend_fill else acc, x.dtype)


def warp_affine(x, theta, out_h, out_w, mode, fill):
    """Resample each image of x through its inverse affine map theta (N, 6).

    theta maps output pixel centres (relative to the output centre) to input
    positions (relative to the input centre), as torchvision's affine grid.
    """
    h, w = x.shape[-2:]
    xs = np.arange(out_w) - out_w * 0.5 + 0.5
    ys = (np.arange(out_h) - out_h * 0.5 + 0.5)[:, None]
    t = theta[:, :, None, None]
    src_x = t[:, 0] * xs + t[:, 1] * ys + t[:, 2] + (w * 0.5 - 0.5)
    src_y = t[:, 3] * xs + t[:, 4] * ys + t[:, 5] + (h * 0.5 - 0.5)
    return sample(x, src_x, src_y, mode, fill)


def perspective_coeffs(startpoints, endpoints):
    """(N, 8) coefficients of torchvision's _get_perspective_coeffs for (N, 4, 2) corners.

    Solves its 8x8 system in float64 and rounds to float32, as torchvision does.
    """
    start = np.asarray(startpoints, dtype=np.float64).reshape(-1, 4, 2)
    end = np.asarray(endpoints, dtype=np.float64).reshape(-1, 4, 2)
    start, end = np.broadcast_arrays(start, end)
    n = len(start)
    a = np.zeros((n, 8, 8))
    ex, ey, sx, sy = end[..., 0], end[..., 1], start[..., 0], start[..., 1]
    a[:, 0::2, 0], a[:, 0::2, 1], a[:, 0::2, 2] = ex, ey, 1
    a[:, 1::2, 3], a[:, 1::2, 4], a[:, 1::2, 5] = ex, ey, 1
    a[:, 0::2, 6], a[:, 0::2, 7] = -sx * ex, -sx * ey
    a[:, 1::2, 6], a[:, 1::2, 7] = -sy * ex, -sy * ey
    b = start.reshape(n, 8)
    return np.linalg.solve(a, b[..., None])[..., 0].astype(np.float32).astype(np.float64)


def warp_perspective(x, coeffs, mode, fill):
    """Resample each image through its perspective coefficients (N, 8), as torchvision's
    _perspective_grid: output pixel centre (X, Y) reads input
    ((c0 X + c1 Y + c2) / (c6 X + c7 Y + 1), (c3 X + c4 Y + c5) / (c6 X + c7 Y + 1))."""
    h, w = x.shape[-2:]
    c = coeffs[:, :, None, None]
    xs = np.arange(w) + 0.5
    ys = (np.arange(h) + 0.5)[:, None]
    den = c[:, 6] * xs + c[:, 7] * ys + 1.0
    src_x = (c[:, 0] * xs + c[:, 1] * ys + c[:, 2]) / den - 0.5
    src_y = (c[:, 3] * xs + c[:, 4] * ys + c[:, 5]) / den - 0.5
    return sample(x, src_x, src_y, mode, fill)


# -- colour ------------------------------------------------------------------------

def blend(x1, x2, ratio):
    """torchvision's _blend: ratio * x1 + (1 - ratio) * x2, clamped and truncated to x1's dtype.

    ratio is a scalar or one value per image; x2 broadcasts against x1.
    """
    n, work = len(x1), work_dtype(x1.dtype)
    r = per_image(ratio, n, work)
    s = per_image(1.0 - np.asarray(ratio, dtype=np.float64), n, work)
    return clamp_cast(r * x1.astype(work, copy=False) + s * x2, x1.dtype)


def rgb_to_grayscale(x):
    """(N, 3, H, W) -> (N, 1, H, W) in x's dtype: 0.2989 R + 0.587 G + 0.114 B, truncated."""
    work = work_dtype(x.dtype)
    r, g, b = (x[:, i:i + 1].astype(work, copy=False) for i in range(3))
    y = work.type(0.2989) * r + work.type(0.587) * g + work.type(0.114) * b
    return y.astype(x.dtype)


def adjust_brightness(x, factor):
    return blend(x, np.zeros((), work_dtype(x.dtype)), factor)


def adjust_contrast(x, factor):
    """Blend with the mean grey level of each image (its luma mean for RGB)."""
    work = work_dtype(x.dtype)
    grey = rgb_to_grayscale(x) if x.shape[1] == 3 else x
    # the sum of integers is exact in float64; float32(sum) / count is torch's float32 mean
    total = grey.sum(axis=(1, 2, 3), dtype=np.float64, keepdims=True).astype(work)
    mean = total / work.type(grey[0].size)
    return blend(x, mean, factor)


def adjust_saturation(x, factor):
    if x.shape[1] == 1:  # as PIL: nothing to desaturate
        return x
    return blend(x, rgb_to_grayscale(x), factor)


def rgb_to_hsv(x):
    """(N, 3, H, W) float RGB in [0, 1] -> HSV, as torchvision's _rgb2hsv (Pillow's formulas)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc, minc = x.max(axis=1), x.min(axis=1)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1, maxc)
    cr_divisor = np.where(eqc, 1, cr)  # eqc: grey, h and s are 0 whatever is divided
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return np.stack((h, s, maxc), axis=1)


def hsv_to_rgb(x):
    """torchvision's _hsv2rgb: the inverse of rgb_to_hsv."""
    h, s, v = x[:, 0], x[:, 1], x[:, 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    r = np.choose(i, (v, q, p, p, t, v))
    g = np.choose(i, (t, v, v, q, p, p))
    b = np.choose(i, (p, p, t, v, v, q))
    return np.stack((r, g, b), axis=1)


def adjust_hue(x, factor):
    """Shift the hue of each image by factor (a turn is 1), in float32 as torchvision."""
    if x.shape[1] == 1:  # as PIL: grey has no hue
        return x
    hsv = rgb_to_hsv(convert_dtype(x, np.float32))
    hsv[:, 0] = np.mod(hsv[:, 0] + per_image(factor, len(x), np.float32)[:, 0], np.float32(1.0))
    return convert_dtype(hsv_to_rgb(hsv), x.dtype)


def adjust_gamma(x, gamma, gain=1.0):
    """gain * x ** gamma on [0, 1] (integers via float32), as torchvision."""
    y = x if x.dtype.kind == "f" else convert_dtype(x, np.float32)
    t = y.dtype.type
    return convert_dtype(np.clip(t(gain) * np.power(y, t(gamma)), 0, 1), x.dtype)


def invert(x):
    return (max_value(x.dtype) - x).astype(x.dtype)


def posterize(x, bits):
    """Keep the top ``bits`` bits of each uint8 value."""
    return x & np.uint8(-int(2 ** (8 - bits)) & 0xFF)


def solarize(x, threshold):
    return np.where(x >= threshold, invert(x), x)


def adjust_sharpness(x, factor):
    """Blend with torchvision's 'degenerate' image: a 3x3 smoothing (centre 5/13, the
    rest 1/13) of the interior, the border rows and columns kept."""
    h, w = x.shape[-2:]
    if h <= 2 or w <= 2:
        return x
    work = work_dtype(x.dtype)
    kernel = np.ones((1, 1, 3, 3), work)
    kernel[..., 1, 1] = 5.0
    kernel /= kernel.sum()
    smooth = ndimage.correlate(x.astype(work), kernel, mode="nearest")[..., 1:-1, 1:-1]
    degenerate = x.copy()
    degenerate[..., 1:-1, 1:-1] = cast_round(smooth, x.dtype)
    return blend(x, degenerate, factor)


def autocontrast(x):
    """Stretch each channel of each image to the full range: (x - min) * bound / (max - min)."""
    bound = max_value(x.dtype)
    work = work_dtype(x.dtype)
    lo = x.min(axis=(2, 3), keepdims=True).astype(work)
    hi = x.max(axis=(2, 3), keepdims=True).astype(work)
    flat = hi == lo  # a constant channel is kept as it is
    # bound / t is t.reciprocal() * bound in torch (Tensor.__rtruediv__)
    scale = np.reciprocal(np.where(flat, 1, hi - lo)) * work.type(bound)
    lo, scale = np.where(flat, 0, lo), np.where(flat, 1, scale)
    return clamp_cast((x - lo) * scale, x.dtype)


def equalize(x):
    """Histogram equalisation of each channel of each uint8 image, as torchvision's
    _scale_channel (PIL's ImageOps.equalize)."""
    n, c, h, w = x.shape
    rows = n * c
    flat = x.reshape(rows, h * w).astype(np.intp)
    hist = np.bincount((flat + 256 * np.arange(rows)[:, None]).ravel(),
                       minlength=256 * rows).reshape(rows, 256)
    last = hist[np.arange(rows), 255 - np.argmax(hist[:, ::-1] != 0, axis=1)]
    step = (hist.sum(axis=1) - last) // 255  # the pixels outside the last used bin, / 255
    safe = np.maximum(step, 1)[:, None]
    lut = (np.cumsum(hist, axis=1) + step[:, None] // 2) // safe
    lut = np.clip(np.concatenate([np.zeros((rows, 1), lut.dtype), lut[:, :-1]], axis=1), 0, 255)
    out = np.where(step[:, None] == 0, flat, np.take_along_axis(lut, flat, axis=1))
    return out.astype(np.uint8).reshape(x.shape)


# -- filtering and erasing ---------------------------------------------------------

def gaussian_kernels(size, sigma, dtype):
    """(N, size) normalised Gaussian kernels, one per sigma, in ``dtype`` as torchvision's."""
    half = (size - 1) * 0.5
    t = np.linspace(-half, half, size).astype(dtype)
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1, 1).astype(dtype)
    pdf = np.exp(dtype.type(-0.5) * (t / sigma) ** 2)
    return pdf / pdf.sum(axis=1, keepdims=True)


def gaussian_blur(x, kernel_size, sigma_x, sigma_y):
    """Blur each image with a separable Gaussian, reflect-padded (torch's 'reflect', SciPy's
    'mirror'). kernel_size is (kx, ky), as torchvision's; sigmas are scalars or (N,)."""
    n, _, h, w = x.shape
    kx, ky = kernel_size
    if kx // 2 >= w or ky // 2 >= h:
        raise ValueError(f"kernel_size {list(kernel_size)} needs reflect padding "
                         f"({kx // 2}, {ky // 2}) smaller than the image's width and height "
                         f"({w}, {h})")
    work = work_dtype(x.dtype)
    wx = np.broadcast_to(gaussian_kernels(kx, sigma_x, work), (n, kx))
    wy = np.broadcast_to(gaussian_kernels(ky, sigma_y, work), (n, ky))
    y = x.astype(work)
    same = (wx == wx[:1]).all() and (wy == wy[:1]).all()
    for k in ([slice(None)] if same else range(n)):  # one SciPy call per distinct kernel
        row = 0 if same else k
        y[k] = ndimage.correlate1d(y[k], wy[row], axis=-2, mode="mirror")
        y[k] = ndimage.correlate1d(y[k], wx[row], axis=-1, mode="mirror")
    return cast_round(y, x.dtype)


def cast_values(v, dtype):
    """Erasing values in the image's dtype: integers truncated toward zero, as torch's copy_."""
    v = np.asarray(v)
    if dtype.kind in "iu" and v.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.trunc(v), info.min, info.max).astype(dtype)
    return v.astype(dtype)


def box_mask(shape, top, left, height, width):
    """(N, 1, H, W) mask of each image's box rows [top, top + height), cols [left, left + width)."""
    n, _, h, w = shape

    def col(v):
        return np.broadcast_to(np.asarray(v).reshape(-1), (n,))[:, None, None, None]
    rows, cols = np.arange(h)[:, None], np.arange(w)
    top, left = col(top), col(left)
    return (rows >= top) & (rows < top + col(height)) & (cols >= left) & (cols < left + col(width))

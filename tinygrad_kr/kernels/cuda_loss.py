"""GPU versions of the fused cross-entropy kernels (twins: ref_loss.py).

Class-index targets, the common case, run fused: the forward reads each row
of logits in one warp (a pass for the maximum, a pass for the exponentials,
the label's logit and the smoothing sum, all reduced with warp shuffles) and
writes the row's log-sum-exp, loss and label weight; the backward is one
element-wise pass that rebuilds the softmax from the saved log-sum-exp.
Class-probability targets and nll_loss use the twins, which run on CuPy.

The layout is the twins': the input seen as M rows of C classes, element
(n, c, s) of an (N, C, d1, d2, ...) input at (n*C + c)*S + s with S = d1*d2*...
and row r = n*S + s (S = 1 for (N, C) and (C,) inputs).  Validation is the
twins' own (same checks, same messages), on the host before any launch.
Row statistics are computed in float64, as the twins' backward does.
"""
import numpy as np

from ..backend import cupy_module
from . import ref_loss
from ._gpu import BLOCK, elementwise, on_device, ones, raw, reduction
from .ref_loss import _check_ce

__all__ = ["cross_entropy_forward", "cross_entropy_backward"]

# A reduced loss over at most this many logits (a classification batch) is computed
# and finished by one block of the forward kernel: the bad-label count, the weight
# sum and the loss come back in one host read (the separate count, sums and cast
# were six launches and two syncs).  Larger inputs use every block and CuPy's
# reductions (one block over millions of logits would cost GPU time).
ONE_BLOCK_ELEMENTS = 1 << 16

# The label check in one pass (the twin's expression is five launches and a
# host sync each time): how many labels are neither a class nor ignore_index.
_bad_labels = reduction("int64 t, int64 n_classes, int64 ignore", "int64 bad",
                        "((t < 0 || t >= n_classes) && t != ignore) ? 1 : 0", "a + b", "bad = a",
                        "0", "tkr_ce_bad_labels")


def _count_bad_labels(target, n_classes, ignore_index):
    return int(_bad_labels(target, n_classes, ignore_index))


def _no_bad_labels(target, n_classes, ignore_index):
    return 0

_forward_rows = raw(r"""
// NaN-propagating maximum, as NumPy's max.
__device__ __forceinline__ double nan_max(double a, double b) { return (b > a || b != b) ? b : a; }

// Reductions over the 32 lanes of a warp (every lane gets the result).
__device__ __forceinline__ double warp_max(double v) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}
__device__ __forceinline__ double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

extern "C" __global__ void tkr_ce_forward(const T* x, const long long* y, const T* w,
        double* lse, T* loss, double* w_label, long long M, long long C, long long S,
        long long ignore_index, double smoothing, int finish, int mean, T* total_loss,
        double* stats) {
    const int lane = threadIdx.x & 31;
    // One warp per row; the whole warp takes the same branches (rows are per warp).
    GRID_STRIDE_LOOP(t, M * 32) {
        const long long r = t >> 5;
        const T* row = x + (r / S) * C * S + r % S;     // class c at row[c * S]

        double m = -tkr_inf();
        for (long long c = lane; c < C; c += 32) m = nan_max(m, (double)row[c * S]);
        m = warp_max(m);

        // sum of exp(x - max); for label smoothing also sum_c w[c] * x[c] and sum_c w[c]
        double s = 0, wx = 0, wsum = 0;
        for (long long c = lane; c < C; c += 32) {
            const double v = row[c * S];
            s += exp(v - m);
            if (smoothing > 0) { wx += (double)w[c] * v; wsum += (double)w[c]; }
        }
        s = warp_sum(s);
        wx = warp_sum(wx);
        wsum = warp_sum(wsum);

        if (lane == 0) {
            const double row_lse = m + log(s);
            const long long label = y[r];
            lse[r] = row_lse;
            if (label == ignore_index || label < 0 || label >= C) {   // bad labels: counted below
                loss[r] = 0;
                w_label[r] = 0;
            } else {
                // -(1-eps) w[y] logp[y] - eps/C sum_c w[c] logp[c], logp = x - lse
                double row_loss = -(1 - smoothing) * (double)w[label] * ((double)row[label * S] - row_lse);
                if (smoothing > 0) row_loss -= smoothing / C * (wx - row_lse * wsum);
                loss[r] = (T)row_loss;
                w_label[r] = w[label];
            }
        }
    }
    if (!finish) return;
    // Launched as one block: reduce here, so that the host reads one small array (one sync)
    // instead of counting bad labels, summing weights and summing losses apart.
    // stats = {sum of the label weights, number of bad labels}; total_loss = sum or mean.
    __syncthreads();
    double loss_sum = 0, weight_sum = 0, bad = 0;
    for (long long r = threadIdx.x; r < M; r += blockDim.x) {
        loss_sum += (double)loss[r];
        weight_sum += w_label[r];
        const long long label = y[r];
        bad += (label != ignore_index && (label < 0 || label >= C)) ? 1 : 0;
    }
    __shared__ double warp_totals[3][32];
    loss_sum = warp_sum(loss_sum);
    weight_sum = warp_sum(weight_sum);
    bad = warp_sum(bad);
    if (lane == 0) {
        warp_totals[0][threadIdx.x >> 5] = loss_sum;
        warp_totals[1][threadIdx.x >> 5] = weight_sum;
        warp_totals[2][threadIdx.x >> 5] = bad;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < (int)(blockDim.x >> 5); ++k) {   // in warp order: deterministic
            loss_sum += warp_totals[0][k];
            weight_sum += warp_totals[1][k];
            bad += warp_totals[2][k];
        }
        stats[0] = weight_sum;
        stats[1] = bad;
        total_loss[0] = (T)(mean ? loss_sum / weight_sum : loss_sum);
    }
}
""", "tkr_ce_forward")

# gx = g * (p * (hard + soft * sum(w)) - soft * w[c]) - [c == y] g * hard, with
# p = softmax, hard = (1-eps) w[y], soft = eps/C; an ignored row has g = 0 (and
# label 0), exactly as in the twin.  The row's g is gloss[r] ('none') or gloss[0]
# divided by the mean's total weight, read on the GPU: a host read would be a sync.
_backward = elementwise(
    "raw T x, raw int64 y, raw float64 lse, raw G gloss, int64 per_row, float64 divisor, "
    "raw T w, float64 w_total, int64 C, int64 S, int64 ignore_index, float64 smoothing",
    "T gx",
    """
    const long long c = (i / S) % C, r = (i / (C * S)) * S + i % S;
    const bool ignored = y[r] == ignore_index;
    const bool bad = !ignored && (y[r] < 0 || y[r] >= C);   // only if not counted before
    const long long label = (ignored || bad) ? 0 : y[r];
    const double gr = ignored ? 0.0 : bad ? nan("") : (double)gloss[per_row ? r : 0] / divisor;
    const double hard = (1 - smoothing) * (double)w[label], soft = smoothing / C;
    const double p = exp((double)x[i] - lse[r]);
    double d = gr * (p * (hard + soft * w_total) - soft * (double)w[c]);
    if (c == label) d -= gr * hard;
    gx = (T)d;
    """, "tkr_ce_backward")


def _geometry(logits):
    """(M rows, C classes, S positions per sample) of the twins' row view."""
    C = logits.shape[0 if logits.ndim == 1 else 1]
    S = int(np.prod(logits.shape[2:], dtype=np.int64))
    return logits.size // C, C, S


def _weights(weight, logits, n_classes):
    """The class weights as a contiguous (C,) array (ones when None)."""
    cp = cupy_module()
    if weight is None:    # read-only in the kernels: one cached vector per size
        return ones(n_classes, logits.dtype, logits.device)
    return cp.ascontiguousarray(weight)


def _one_block(n_rows, n_classes, reduction):
    return reduction != "none" and n_rows * n_classes <= ONE_BLOCK_ELEMENTS


def _count_bad_labels_unless_one_block(target, n_classes, ignore_index):
    if _one_block(target.size, n_classes, "mean"):
        return 0     # "none yet": the one-block forward counts them in its own pass
    return _count_bad_labels(target, n_classes, ignore_index)


@on_device
def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, reduction="mean",
                          label_smoothing=0.0):
    cp = cupy_module()
    target, is_prob, _ = _check_ce(
        logits, target, weight, ignore_index, reduction, label_smoothing,
        _count_bad_labels if reduction == "none" else _count_bad_labels_unless_one_block)
    if is_prob:
        return ref_loss.cross_entropy_forward(logits, target, weight, ignore_index, reduction,
                                              label_smoothing)
    M, C, S = _geometry(logits)
    one_block = _one_block(M, C, reduction)
    x = cp.ascontiguousarray(logits)
    y = cp.ascontiguousarray(target)
    lse = cp.empty(M, dtype=np.float64)
    row_loss = cp.empty(M, dtype=logits.dtype)
    w_label = cp.empty(M, dtype=np.float64)
    args = (x, y, _weights(weight, logits, C), lse, row_loss, w_label, M, C, S, ignore_index,
            float(label_smoothing))
    if one_block:
        loss = cp.empty((), dtype=logits.dtype)
        stats = cp.empty(2, dtype=np.float64)
        _forward_rows(BLOCK, *args, 1, int(reduction == "mean"), loss, stats)
        total_weight, bad = (float(v) for v in cp.asnumpy(stats))     # the one host sync
        if bad:     # the twins' check names the first bad label
            ref_loss._check_class_target(logits, target, ignore_index, C, "cross_entropy")
        return loss, lse, total_weight
    _forward_rows(M * 32, *args, 0, 0, row_loss, w_label)
    total_weight = float(w_label.sum())
    if reduction == "none":
        loss = row_loss.reshape(target.shape)
    else:
        total = row_loss.sum(dtype=np.float64)
        if reduction == "mean":
            total = total / total_weight   # 0/0 -> nan on the GPU, as the twin's IEEE division
        loss = total.astype(logits.dtype)
    return loss, lse, total_weight


@on_device
def cross_entropy_backward(logits, target, lse, gloss, total_weight, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0, labels_checked=False):
    cp = cupy_module()
    # Counting bad labels is a reduction and a host read (a sync): skipped for
    # labels the caller vouches for (see the twin); the kernel gives a bad
    # label's row NaN gradients rather than read outside the weights.
    target, is_prob, _ = _check_ce(logits, target, weight, ignore_index, reduction,
                                   label_smoothing,
                                   _no_bad_labels if labels_checked else _count_bad_labels)
    if is_prob:
        return ref_loss.cross_entropy_backward(logits, target, lse, gloss, total_weight, weight,
                                               ignore_index, reduction, label_smoothing)
    M, C, S = _geometry(logits)
    w = _weights(weight, logits, C)
    per_row = reduction == "none"
    g = cp.ascontiguousarray(cp.asarray(gloss)).reshape(-1)
    if g.size != (M if per_row else 1):
        raise ValueError(f"cross_entropy_backward: gloss has {g.size} values, expected "
                         f"{M if per_row else 1} for reduction={reduction!r}")
    divisor = float(total_weight) if reduction == "mean" else 1.0
    gx = cp.empty(logits.shape, dtype=logits.dtype)
    # unweighted: the weights' sum is C, known here (a sum on the GPU would sync to read it)
    w_sum = float(C) if weight is None else float(w.sum(dtype=np.float64))
    _backward(logits, target.reshape(-1), lse, g, int(per_row), divisor, w, w_sum, C, S,
              ignore_index, float(label_smoothing), gx)
    return gx

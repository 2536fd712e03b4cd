"""GPU versions of the BLAS-group kernels (twins: ref_blas.py).

gemm and batched_matmul need none: their twins run on CuPy arrays as they
are, and ``cupy.matmul`` is cuBLAS.

``bias_grad`` is one RawKernel.  CuPy's general reduction over the axes
(0, 2, 3) runs one block per output (a channel of a LeNet layer is 200k
values: 50 us on an H100) and two GEMVs against ones cost two cuBLAS calls of
host time each; here every channel is split over enough blocks to fill the
GPU, each warp sums its share in float64 and adds it to the channel's total
with one atomic add.  The float64 totals are then rounded to gy's dtype, so
the order in which the warps land changes nothing for float32 and at most the
last bit of a float64 result.
"""
from ..backend import cupy_module
from ._gpu import BLOCK, on_device, raw
from .ref_blas import bias_grad as _bias_grad_twin

__all__ = ["bias_grad"]

PER_BLOCK = 8 * BLOCK   # values of one channel that one block sums (8 per thread)

_bias_grad = raw(r"""
// Warp sum (every lane gets the total).
__device__ __forceinline__ double tkr_warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// total[c] += the values of channel c of g (N, C, S) in part p of its N*S values, for
// the blocks b = p*C + c; total starts at 0.
extern "C" __global__ void tkr_bias_grad(const T* g, double* total, long long C, long long S,
                                         long long NS, long long parts) {
    const long long part_len = (NS + parts - 1) / parts;
    for (long long b = blockIdx.x; b < C * parts; b += gridDim.x) {   // the same for a whole warp
        const long long c = b % C, p = b / C;
        const long long t1 = min(NS, (p + 1) * part_len);
        double sum = 0;
        for (long long t = p * part_len + threadIdx.x; t < t1; t += blockDim.x) {
            const long long n = t / S;
            sum += (double)g[(n * C + c) * S + (t - n * S)];
        }
        sum = tkr_warp_sum(sum);
        if ((threadIdx.x & 31) == 0) atomicAdd(&total[c], sum);
    }
}
""", "tkr_bias_grad")


@on_device
def bias_grad(gy):
    if getattr(gy, "ndim", 0) < 2 or gy.dtype.kind != "f" or gy.size == 0:
        return _bias_grad_twin(gy)     # its errors, and the empty cases
    cp = cupy_module()
    n, c = gy.shape[:2]
    s = gy.size // (n * c)
    parts = -(-(n * s) // PER_BLOCK)
    total = cp.zeros(c, dtype=cp.float64)
    _bias_grad(c * parts * BLOCK, cp.ascontiguousarray(gy), total, c, s, n * s, parts)
    return total.astype(gy.dtype, copy=False)

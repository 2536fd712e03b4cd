"""CuPy on the CPU: runs the GPU kernels' CUDA C on the host, for tests.

``CpuCupy()`` stands in for the cupy module (tests monkeypatch the kernel
modules' ``cupy_module``): arrays are NumPy arrays, and CuPy's three kernel
classes compile their CUDA C with the host C++ compiler (g++):

* RawKernel: the kernel runs as one block of 32 host threads, one warp:
  ``__shfl_xor_sync`` is an exchange between two barriers and ``atomicAdd``
  takes a lock, so grid-stride loops and warp reductions run as written.
* ElementwiseKernel: the operation runs in a loop over ``i``, each non-raw
  array broadcast to the loop shape and bound by reference, raw arrays as
  pointers (indexed in C order, as CuPy's raw arrays), numbers as values of
  their parameter's type.
* ReductionKernel (sums only: ``a + b`` from ``0``, post-map ``out = a``):
  the map expression as an element-wise kernel, summed by NumPy.

What it cannot check: CuPy's own code generation and launches (a test
compiles that code with NVRTC), device memory, real warp scheduling.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import types

import numpy as np

CXX = shutil.which("g++") or shutil.which("c++")

_HOST = r"""
#include <algorithm>
#include <cmath>
#include <cstring>
#define __global__
#define __device__
#define __forceinline__ inline
using std::exp; using std::fabs; using std::log; using std::max; using std::min; using std::sqrt;
"""

# Raw kernels run as one warp of host threads.
_WARP = r"""
#include <barrier>
#include <mutex>
#include <thread>
#include <vector>

struct Dim3 { long long x; };
static Dim3 blockIdx{0}, gridDim{1}, blockDim{32};
static thread_local Dim3 threadIdx{0};

static std::barrier<>* warp_barrier;
static double warp_slots[32];
template <class V> V __shfl_xor_sync(unsigned, V v, int offset) {
    warp_slots[threadIdx.x] = v;
    warp_barrier->arrive_and_wait();
    V other = (V)warp_slots[threadIdx.x ^ offset];
    warp_barrier->arrive_and_wait();
    return other;
}
static std::mutex atomic_lock;
template <class V> V atomicAdd(V* at, V v) {
    std::lock_guard<std::mutex> hold(atomic_lock);
    V old = *at;
    *at += v;
    return old;
}
// A block of the stand-in is its one warp.
#define __syncthreads() warp_barrier->arrive_and_wait()
#define __shared__ static
static double __longlong_as_double(long long bits) {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}
"""

_C_TYPES = {"float64": "double", "float32": "float", "int64": "long long", "int32": "int",
            "uint64": "unsigned long long", "uint32": "unsigned int", "uint8": "unsigned char",
            "bool": "bool"}
_CTYPES = {"double": ctypes.c_double, "float": ctypes.c_float, "long long": ctypes.c_longlong,
           "int": ctypes.c_int, "unsigned long long": ctypes.c_ulonglong,
           "unsigned int": ctypes.c_uint, "unsigned char": ctypes.c_ubyte, "bool": ctypes.c_bool}
_DTYPES = {c: name for name, c in _C_TYPES.items()}
_FLAGS = ["-std=c++20", "-O1", "-shared", "-fPIC", "-pthread"]
# Compiled libraries are kept between runs, named by a hash of source and flags.
CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                         "tinygrad_kr", "cuda_on_cpu")
_LIBS = {}


def _compile(source):
    """The shared library of C++ ``source`` (built once, then cached on disk)."""
    key = hashlib.sha1("\n".join([str(CXX), *_FLAGS, source]).encode()).hexdigest()[:20]
    if key not in _LIBS:
        lib = os.path.join(CACHE_DIR, f"{key}.so")
        if not os.path.exists(lib):
            os.makedirs(CACHE_DIR, exist_ok=True)
            src, tmp = f"{lib[:-3]}.{os.getpid()}.cpp", f"{lib}.{os.getpid()}.tmp"
            with open(src, "w") as f:
                f.write(source)
            done = subprocess.run([CXX, *_FLAGS, "-o", tmp, src], capture_output=True, text=True)
            os.remove(src)
            if done.returncode:
                raise RuntimeError(f"host compile failed:\n{done.stderr}\n--- source ---\n"
                                   f"{source}")
            os.replace(tmp, lib)   # atomic: a parallel run sees a whole library or none
        _LIBS[key] = ctypes.CDLL(lib)
    return _LIBS[key]


def _value(ctype, v, type_map):
    ctype = type_map.get(ctype, ctype)
    return _CTYPES[ctype](v.item() if isinstance(v, np.generic) else v)


class CPointer:
    """CuPy's ``cupy.cuda.function.CPointer``: a kernel argument given as the
    host address of its value (kernels/_gpu.py passes numbers this way)."""

    def __init__(self, ptr=0):
        self.ptr = ptr


class RawKernel:
    """The kernel on one block of 32 host threads."""
    launches = []   # (name, args) of every launch, numbers as NumPy scalars, for tests

    def __init__(self, code, name):
        decls = re.search(rf"void {name}\(([^)]*)\)", code).group(1)
        self.name = name
        self.pointers = ["*" in d for d in decls.split(",")]
        # the C type of each number parameter (T from the source's typedef), to
        # read a CPointer argument's value
        t = re.search(r"typedef ([\w ]+?) T;", code)
        words = [[w for w in d.replace("*", " ").split()[:-1] if w not in ("const", "__restrict__")]
                 for d in decls.split(",")]
        self.ctypes = [None if pointer else (t.group(1) if w == ["T"] else " ".join(w))
                       for pointer, w in zip(self.pointers, words)]
        names = [d.replace("*", " ").split()[-1] for d in decls.split(",")]
        self.run = getattr(_compile(_HOST + _WARP + code + f"""
extern "C" void run({decls}) {{
    std::barrier<> barrier(32);
    warp_barrier = &barrier;
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t)
        threads.emplace_back([=] {{ threadIdx.x = t; {name}({", ".join(names)}); }});
    for (auto& thread : threads) thread.join();
}}"""), "run")

    def __call__(self, grid, block, args):
        assert grid[0] >= 1 and block[0] >= 1
        args = tuple(np.dtype(_DTYPES[ctype]).type(_CTYPES[ctype].from_address(a.ptr).value)
                     if isinstance(a, CPointer) else a for a, ctype in zip(args, self.ctypes))
        RawKernel.launches.append((self.name, args))
        self.run(*[ctypes.c_void_p(a.ctypes.data) if is_pointer else
                   _CTYPES[_C_TYPES[np.asarray(a).dtype.name]](a.item())
                   for a, is_pointer in zip(args, self.pointers)])


def _parse(params):
    """[(raw, C type or type variable, name)] of a CuPy parameter list."""
    out = []
    for decl in params.split(","):
        words = decl.split()
        ctype = words[-2] if len(words[-2]) == 1 else _C_TYPES[words[-2]]
        out.append(("raw" in words[:-2], ctype, words[-1]))
    return out


class ElementwiseKernel:
    """The operation in a host loop over i (CuPy's argument rules)."""

    def __init__(self, in_params, out_params, operation, name, preamble="", **_):
        self.ins, self.outs = _parse(in_params), _parse(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble

    def __call__(self, *args):
        params = self.ins + self.outs
        if len(args) not in (len(self.ins), len(params)):
            raise TypeError(f"{self.name}: wrong number of arguments ({len(args)})")
        type_map = {}   # type variable -> C type, from the arrays (numbers follow them)
        for (_, ctype, pname), a in zip(params, args):
            if isinstance(a, np.ndarray):
                have = _C_TYPES[a.dtype.name]
                want = type_map.setdefault(ctype, have) if len(ctype) == 1 else ctype
                if have != want:
                    raise TypeError(f"{self.name}: type is mismatched: {pname} {a.dtype}")
        shape = np.broadcast_shapes(*[a.shape for (raw, _, _), a in zip(params, args)
                                      if isinstance(a, np.ndarray) and not raw])
        outs = list(args[len(self.ins):])
        for _, ctype, _ in self.outs[len(outs):]:
            outs.append(np.zeros(shape, _DTYPES[type_map.get(ctype, ctype)]))
        for (raw, _, pname), out in zip(self.outs, outs):
            if not raw and out.shape != shape:
                raise ValueError(f"{self.name}: out shape of {pname} is mismatched")
        values = list(args[:len(self.ins)]) + outs
        buffers = [np.ascontiguousarray(a if raw or k >= len(self.ins) else
                                        np.broadcast_to(a, shape))
                   if isinstance(a, np.ndarray) else a
                   for k, ((raw, _, _), a) in enumerate(zip(params, values))]
        kinds = tuple(isinstance(a, np.ndarray) for a in values)
        run = self._compiled(tuple(sorted(type_map.items())), kinds)
        run(*[ctypes.c_void_p(b.ctypes.data) if is_array else _value(c, b, type_map)
              for (_, c, _), b, is_array in zip(params, buffers, kinds)],
            ctypes.c_longlong(int(np.prod(shape))))
        for out, buf in zip(outs, buffers[len(self.ins):]):
            if buf is not out:
                out[...] = buf
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _compiled(self, type_map, kinds):
        decls, binds = [], []
        for k, ((raw, ctype, pname), is_array) in enumerate(zip(self.ins + self.outs, kinds)):
            const = "const " if k < len(self.ins) else ""
            if not is_array:
                decls.append(f"{const}{ctype} {pname}")
            elif raw:
                decls.append(f"{const}{ctype}* {pname}")
            else:
                decls.append(f"{const}{ctype}* _raw_{pname}")
                binds.append(f"{const}{ctype}& {pname} = _raw_{pname}[i];")
        typedefs = "".join(f"typedef {c} {var};\n" for var, c in type_map)
        source = (_HOST + typedefs + self.preamble + f"""
extern "C" void run({", ".join(decls)}, long long n) {{
    for (long long i = 0; i < n; ++i) {{
        {" ".join(binds)}
        {self.operation};
    }}
}}""")
        return _compile(source).run


class ReductionKernel:
    """Sums of the map expression over ``axis``."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name, reduce_type=None, **_):
        (_, ctype, out), = _parse(out_params)
        assert (reduce_expr, identity, post_map_expr.replace(" ", "")) == ("a + b", "0",
                                                                         f"{out}=a")
        self.map = ElementwiseKernel(in_params, f"{_DTYPES[ctype]} mapped", f"mapped = {map_expr}",
                                     name)

    def __call__(self, *args, axis=None):
        mapped = self.map(*args)
        return mapped.sum(axis=axis, dtype=mapped.dtype)


class CpuCupy:
    """The cupy module as far as the kernel modules use it."""
    RawKernel, ElementwiseKernel, ReductionKernel = RawKernel, ElementwiseKernel, ReductionKernel
    cuda = types.SimpleNamespace(function=types.SimpleNamespace(CPointer=CPointer))

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def asnumpy(a):
        return np.asarray(a)


def _column_major(address, rows, cols, ld, dtype, buffers=None):
    """The column-major (rows, cols) matrix with leading dimension ld at a host
    address; with ``buffers`` ({start: end} of the arrays handed to cuBLAS), an
    extent outside every one of them fails here rather than reading stray memory."""
    dtype = np.dtype(dtype)
    count = ld * (cols - 1) + rows if rows and cols else 0
    if buffers is not None and count:
        end = address + count * dtype.itemsize
        assert any(start <= address and end <= stop for start, stop in buffers.items()), \
            f"cuBLAS would read or write outside its arrays ({count} elements at {address:#x})"
    flat = np.ctypeslib.as_array((ctypes.c_byte * (count * dtype.itemsize)).from_address(address))
    return np.lib.stride_tricks.as_strided(flat.view(dtype), (rows, cols),
                                           (dtype.itemsize, ld * dtype.itemsize))


class CpuCublas:
    """The cuBLAS calls of tinygrad_kr/kernels/_cublas.py on host memory, by the
    BLAS reference definitions (column-major, op flags, leading dimensions,
    host-side alpha and beta; beta = 0 never reads C), so that the row-major
    mapping of those wrappers is checked without a GPU."""
    CUBLAS_POINTER_MODE_HOST = 0
    mode = 0
    calls = []    # (function name, dimensions) of every call, for tests
    buffers = {}  # start -> end address of every array whose address was taken

    @classmethod
    def address(cls, a):
        """a's address, remembering the memory a may span (the stand-in of ``a.data.ptr``)."""
        start = a.ctypes.data
        cls.buffers[start] = start + a.nbytes if a.flags.forc else None
        if cls.buffers[start] is None:      # a strided view: its base's whole buffer
            base = a if a.base is None else a.base
            cls.buffers[start] = base.ctypes.data + base.nbytes
        return start

    @classmethod
    def getPointerMode(cls, handle):
        return cls.mode

    @classmethod
    def setPointerMode(cls, handle, mode):
        cls.mode = mode

    @staticmethod
    def _scalar(address, dtype):
        return _column_major(address, 1, 1, 1, dtype)[0, 0]

    @classmethod
    def _gemm(cls, dtype, h, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
        assert cls.mode == cls.CUBLAS_POINTER_MODE_HOST
        assert lda >= max(1, k if transa else m) and ldb >= max(1, n if transb else k)
        assert ldc >= max(1, m)
        a = _column_major(A, *((k, m) if transa else (m, k)), lda, dtype, cls.buffers)
        b = _column_major(B, *((n, k) if transb else (k, n)), ldb, dtype, cls.buffers)
        c = _column_major(C, m, n, ldc, dtype, cls.buffers)
        product = (a.T if transa else a) @ (b.T if transb else b)
        alpha, beta = cls._scalar(alpha, dtype), cls._scalar(beta, dtype)
        c[...] = alpha * product + (beta * c if beta else 0)
        cls.calls.append(("gemm", (m, n, k)))

    @classmethod
    def _gemv(cls, dtype, h, trans, m, n, alpha, A, lda, x, incx, beta, y, incy):
        assert cls.mode == cls.CUBLAS_POINTER_MODE_HOST and lda >= max(1, m)
        assert incx == 1 and incy == 1
        a = _column_major(A, m, n, lda, dtype, cls.buffers)
        xs = _column_major(x, m if trans else n, 1, 1, dtype, cls.buffers)[:, 0]
        ys = _column_major(y, n if trans else m, 1, 1, dtype, cls.buffers)[:, 0]
        alpha, beta = cls._scalar(alpha, dtype), cls._scalar(beta, dtype)
        ys[...] = alpha * ((a.T if trans else a) @ xs) + (beta * ys if beta else 0)
        cls.calls.append(("gemv", (m, n)))

    # cuBLAS's typed entry points: s = float32, d = float64
    sgemm = classmethod(lambda cls, *args: cls._gemm(np.float32, *args))
    dgemm = classmethod(lambda cls, *args: cls._gemm(np.float64, *args))
    sgemv = classmethod(lambda cls, *args: cls._gemv(np.float32, *args))
    dgemv = classmethod(lambda cls, *args: cls._gemv(np.float64, *args))

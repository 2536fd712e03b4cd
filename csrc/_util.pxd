# cython: language_level=3
"""Helpers shared by the compiled dense kernels (conv.pyx, pool.pyx).

Only ``cdef inline`` functions, so cimporting this adds no runtime module.
The argument checks run before any nogil loop and raise the Python errors
the NumPy twins raise for the same mistakes.
"""
cimport numpy as cnp

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int omp_get_max_threads() nogil

cdef enum:
    # Work (elements touched) below which a parallel loop runs on one thread,
    # like PyTorch's grain size: waking the team costs more than it saves,
    # and much more when the machine is busy and a thread must wait its turn.
    PARALLEL_GRAIN = 32768


cdef inline int num_threads(Py_ssize_t work) noexcept nogil:
    """Threads for a prange over ``work`` elements: 1 for small loops."""
    return 1 if work < PARALLEL_GRAIN else omp_get_max_threads()


cdef inline tuple int_pair(value, str what, str fn):
    """An (h, w) pair of ints, or TypeError naming ``what``."""
    try:
        pair = tuple([int(v) for v in value])
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2:
        raise TypeError(f"{fn}: {what} must be an (h, w) pair of ints, got {value!r}")
    return pair


cdef inline cnp.ndarray float_array(a, str name, str fn, like=None):
    """a as a C-contiguous float32/float64 ndarray in native byte order, of
    ``like``'s dtype if given (``like`` already passed through here)."""
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
    cdef int kind = cnp.PyArray_TYPE(a)
    if kind != cnp.NPY_FLOAT32 and kind != cnp.NPY_FLOAT64:
        raise TypeError(f"{fn}: only float32 and float64 are supported, got {name} {a.dtype}")
    if like is not None and kind != cnp.PyArray_TYPE(<cnp.ndarray> like):
        raise TypeError(f"{fn}: {name} has dtype {a.dtype}, expected {like.dtype}")
    if not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> a):
        # the type number ignores byte order: a '>f4' array would be read as
        # garbage, and taken for float64 by a dtype == float32 test
        return a.astype(a.dtype.newbyteorder("="), order="C")
    return cnp.PyArray_GETCONTIGUOUS(a)


cdef inline void* data_ptr(a):
    """The first element of array a, or NULL for None."""
    return NULL if a is None else cnp.PyArray_DATA(a)

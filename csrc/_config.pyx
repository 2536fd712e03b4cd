# cython: language_level=3
"""Build facts the engine reports in show_config(): OpenMP and thread count.

The C preprocessor decides (``_OPENMP`` is defined by ``-fopenmp``), so the
same source builds with and without OpenMP.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define TKR_OPENMP 1
    #else
    #define TKR_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static void omp_set_num_threads(int n) { (void)n; }
    #endif
    """
    int TKR_OPENMP
    int omp_get_max_threads() nogil
    void omp_set_num_threads(int) nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return TKR_OPENMP == 1


def get_num_threads():
    """Threads an OpenMP parallel region would use (1 without OpenMP)."""
    return omp_get_max_threads()


def set_num_threads(int n):
    """Set the OpenMP thread count for the kernels (no-op without OpenMP)."""
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    omp_set_num_threads(n)

"""The named results of max/min along a dim and topk, as ``torch.return_types``.

Each unpacks as ``(values, indices)``, has ``.values`` and ``.indices``, and
prints as PyTorch prints it.  They live in this module under the ops' names
so that pickle finds them again.
"""

__all__ = ["max", "min", "topk", "sort", "histogram"]


class _ValuesIndices(tuple):
    __slots__ = ()

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return (f"tinygrad_kr.return_types.{type(self).__name__}(\n"
                f"values={self[0]!r},\nindices={self[1]!r})")


class max(_ValuesIndices):  # noqa: A001 (PyTorch's name)
    __slots__ = ()


class min(_ValuesIndices):  # noqa: A001
    __slots__ = ()


class topk(_ValuesIndices):
    __slots__ = ()


class sort(_ValuesIndices):
    __slots__ = ()


class histogram(tuple):
    """``(hist, bin_edges)`` of ``torch.histogram``."""
    __slots__ = ()

    @property
    def hist(self):
        return self[0]

    @property
    def bin_edges(self):
        return self[1]

    def __repr__(self):
        return (f"tinygrad_kr.return_types.histogram(\n"
                f"hist={self[0]!r},\nbin_edges={self[1]!r})")


# -- torch.linalg's named results (tinygrad_kr/linalg.py) ---------------------

def _named(name, fields):
    """A tuple subclass named ``name`` with a property per field, printed as PyTorch prints it."""
    def make(i):
        return property(lambda self: self[i])

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"tinygrad_kr.return_types.{name}(\n{body})"
    ns = {f: make(i) for i, f in enumerate(fields)}
    ns.update(__slots__=(), __repr__=__repr__, __module__=__name__, _fields=tuple(fields),
              n_fields=len(fields))
    return type(name, (tuple,), ns)


slogdet = _named("slogdet", ("sign", "logabsdet"))
linalg_slogdet = _named("linalg_slogdet", ("sign", "logabsdet"))
linalg_inv_ex = _named("linalg_inv_ex", ("inverse", "info"))
linalg_cholesky_ex = _named("linalg_cholesky_ex", ("L", "info"))
linalg_solve_ex = _named("linalg_solve_ex", ("result", "info"))
linalg_qr = _named("linalg_qr", ("Q", "R"))
linalg_eigh = _named("linalg_eigh", ("eigenvalues", "eigenvectors"))
linalg_svd = _named("linalg_svd", ("U", "S", "Vh"))
svd = _named("svd", ("U", "S", "V"))
linalg_lstsq = _named("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
__all__ += ["slogdet", "linalg_slogdet", "linalg_inv_ex", "linalg_cholesky_ex", "linalg_solve_ex",
            "linalg_qr", "linalg_eigh", "linalg_svd", "svd", "linalg_lstsq"]
linalg_lu = _named("linalg_lu", ("P", "L", "U"))
linalg_lu_factor = _named("linalg_lu_factor", ("LU", "pivots"))
linalg_lu_factor_ex = _named("linalg_lu_factor_ex", ("LU", "pivots", "info"))
__all__ += ["linalg_lu", "linalg_lu_factor", "linalg_lu_factor_ex"]
linalg_ldl_factor = _named("linalg_ldl_factor", ("LD", "pivots"))
linalg_ldl_factor_ex = _named("linalg_ldl_factor_ex", ("LD", "pivots", "info"))
__all__ += ["linalg_ldl_factor", "linalg_ldl_factor_ex"]

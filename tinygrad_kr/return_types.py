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

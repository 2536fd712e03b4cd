"""Datasets, samplers and the DataLoader, with torch.utils.data's names and semantics.

    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=g)
    for xb, yb in loader: ...

Batches are built the PyTorch way (a sampler yields indices, a batch sampler
groups them, ``collate_fn`` turns a list of samples into a batch) with one
shortcut: a dataset backed by arrays may define ``_get_batch(indices)`` that
returns exactly what ``default_collate([dataset[i] for i in indices])`` would,
built with ONE fancy index per array instead of a Python call per sample.
TensorDataset, the vision datasets and any Subset of them do. The DataLoader
takes that path only with the default collate_fn, and never for a subclass
that overrides ``__getitem__``/``__getitems__`` (its samples are no longer
what ``_get_batch`` knows how to gather).

With ``num_workers > 0`` batches are built in worker processes
(``_worker.py``), each with the same fetcher as the single-process loader.
``pin_memory`` is accepted and has no effect (batches are host arrays).

Everything is defined here; the submodules ``dataset``, ``sampler``,
``dataloader`` and ``distributed`` only re-export it under PyTorch's module
names, for code that imports from them.
"""
import bisect
import copy
import importlib
import itertools
import math
import warnings
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from ...random import get_rng
from ...tensor import Tensor
from .._worker import (MultiProcessIter, StreamEnd, check_context, get_worker_info,
                      warn_if_too_many_workers)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset",
           "ConcatDataset", "ChainDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info"]


# -- datasets -----------------------------------------------------------------

class Dataset:
    """A map-style dataset: ``__getitem__(index)`` and usually ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses implement ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        raise TypeError("ConcatDataset does not support IterableDataset")


class TensorDataset(Dataset):
    """Samples are ``tuple(t[index] for t in tensors)``; all tensors share dim 0."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [len(t) for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return len(self.tensors[0])

    def _get_batch(self, indices):
        if not all(isinstance(t, (Tensor, np.ndarray)) for t in self.tensors):
            return NotImplemented
        idx = np.asarray(indices, dtype=np.intp)
        # default_collate turns a tuple sample into a list of batched tensors
        return [gather_rows(t, idx) for t in self.tensors]


class StackDataset(Dataset):
    """Several datasets of one length side by side: ``StackDataset(a, b)[i]``
    is ``(a[i], b[i])``, ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}``."""

    def __init__(self, *args, **kwargs):
        if args:
            if kwargs:
                raise ValueError("Supported either ``tuple``- (via ``args``) or"
                                 "``dict``- (via ``kwargs``) like input/output, but both types "
                                 "are given.")
            self._length = len(args[0])
            if any(self._length != len(dataset) for dataset in args):
                raise ValueError("Size mismatch between datasets")
            self.datasets = args
        elif kwargs:
            parts = list(kwargs.values())
            self._length = len(parts[0])
            if any(self._length != len(dataset) for dataset in parts):
                raise ValueError("Size mismatch between datasets")
            self.datasets = kwargs
        else:
            raise ValueError("At least one dataset should be passed")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices):
        # PyTorch's protocol: a list of samples; each part batched where it can be
        keys = list(self.datasets) if isinstance(self.datasets, dict) else None
        parts = list(self.datasets.values()) if keys else list(self.datasets)
        columns = []
        for dataset in parts:
            getitems = getattr(dataset, "__getitems__", None)
            if callable(getitems):
                items = getitems(indices)
                if len(items) != len(indices):
                    raise ValueError(f"Nested dataset's output size mismatch. Expected "
                                     f"{len(indices)}, got {len(items)}")
                columns.append(items)
            else:
                columns.append([dataset[i] for i in indices])
        if keys:
            return [dict(zip(keys, sample)) for sample in zip(*columns)]
        return [tuple(sample) for sample in zip(*columns)]

    def __len__(self):
        return self._length

    def _get_batch(self, indices):
        # default_collate of (a[i], b[i]) samples is [collate(a's), collate(b's)]
        # (a dict of them for dict samples): each part's own batch
        named = isinstance(self.datasets, dict)
        items = self.datasets.items() if named else enumerate(self.datasets)
        batches = {}
        for key, dataset in items:
            get_batch = batch_getter(dataset)
            batch = NotImplemented if get_batch is None else get_batch(indices)
            if batch is NotImplemented:
                return NotImplemented
            batches[key] = batch
        return batches if named else list(batches.values())


def gather_rows(t, idx):
    """``t[idx]`` as a Tensor, idx an integer numpy array: one fancy index.

    A tensor that requires grad is indexed through autograd (like stacking its
    rows would be); anything else is gathered on the raw array.
    """
    if isinstance(t, Tensor):
        if t.requires_grad:
            return t[idx]
        data = t.array
        if data.__class__ is not np.ndarray:  # CuPy: index with a device array
            from ...backend import get_array_module
            idx = get_array_module(data).asarray(idx)
        return Tensor(data[idx])
    return Tensor(np.asarray(t)[idx])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a sequence, array or tensor of ints)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        # PyTorch's protocol: a list of samples, for a custom collate_fn
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)

    def _get_batch(self, indices):
        get_batch = batch_getter(self.dataset)
        if get_batch is None:
            return NotImplemented
        ind = self.indices.array if isinstance(self.indices, Tensor) else self.indices
        if isinstance(ind, np.ndarray):
            mapped = ind[np.asarray(indices, dtype=np.intp)]
        else:
            mapped = [ind[i] for i in indices]  # a loop over indices only, not over samples
        return get_batch(mapped)


class ConcatDataset(Dataset):
    """The concatenation of several map-style datasets."""

    @staticmethod
    def cumsum(sequence):
        r, s = [], 0
        for e in sequence:
            s += len(e)
            r.append(s)
        return r

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        if idx >= len(self):
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length "
                             f"{len(self)}")
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Streams of several IterableDatasets one after another, chained as they
    are read (nothing is loaded ahead)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths.

    ``lengths`` are ints summing to ``len(dataset)``, or fractions summing to 1:
    each split gets ``floor(len * frac)`` items and the remainder is dealt one
    by one round-robin from the first split (PyTorch's rule).
    """
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(len(dataset) * frac)))
        remainder = len(dataset) - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                              f"dataset.")
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    indices = get_rng(generator).permutation(sum(lengths)).tolist()
    return [Subset(dataset, indices[offset - length:offset])
            for offset, length in zip(itertools.accumulate(lengths), lengths)]


# -- samplers -----------------------------------------------------------------

class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of indices)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (or, with replacement, ``num_samples`` uniform draws).

    Without replacement and ``num_samples > len``, whole permutations are
    concatenated and the last one truncated. The draw happens when iteration
    starts, from ``generator`` or the default generator.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) \
                or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = get_rng(self.generator)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        full, rest = divmod(self.num_samples, n)
        parts = [rng.permutation(n) for _ in range(full)]
        if rest:
            parts.append(rng.permutation(n)[:rest])
        return iter(np.concatenate(parts).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in get_rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.array if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights should be finite, non-negative and not all zero")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        drawn = get_rng(self.generator).choice(len(p), size=self.num_samples,
                                               replace=self.replacement, p=p)
        return iter(drawn.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


class DistributedSampler(Sampler):
    """The share of rank ``rank`` out of ``num_replicas`` processes: the
    (shuffled) indices, padded by repeating their start to a multiple of
    num_replicas (or, with ``drop_last``, cut to one), then every
    num_replicas-th from position ``rank``.  The shares of all ranks partition
    that list, and each has ``len(self)`` indices.

    There is no process group here, so ``num_replicas`` and ``rank`` must be
    given.  The shuffle is a permutation from a Generator seeded with
    ``seed + epoch`` (call ``set_epoch`` each epoch), the same on every rank,
    as PyTorch's; its order is not PyTorch's, because the engine's generator
    is NumPy's PCG64, not PyTorch's Mersenne Twister.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            # PyTorch asks its default process group, which is never initialized here
            missing = " and ".join(n for n, v in (("num_replicas", num_replicas), ("rank", rank))
                                   if v is None)
            raise ValueError(f"Default process group has not been initialized, please make sure "
                             f"to call init_process_group. (tinygrad_kr has no process group: "
                             f"pass {missing} to DistributedSampler.)")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            # the largest multiple of num_replicas that fits: every rank gets as many
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas)
                                         / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        if self.shuffle:
            # the same order on every rank: seeded only by seed and epoch
            from ...factories import randperm
            from ...random import Generator
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(len(self.dataset), generator=g).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the order of ``epoch`` from the next iteration on (with shuffle)."""
        self.epoch = epoch


# -- collation ----------------------------------------------------------------

_COLLATE_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")


def _is_numpy_text(dtype):
    return dtype.kind in "OSUV"


def _stack(tensors):
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(t.shape)} at entry {i}")
    if any(t.requires_grad for t in tensors):
        from ...ops import stack
        return stack(tensors, 0)
    from ...backend import get_array_module
    xp = get_array_module(first.array)
    return Tensor(xp.stack([t.array for t in tensors]))


def default_collate(batch):
    """Merge a list of samples into a batch, recursing into containers.

    Tensors and numpy arrays are stacked along a new dim 0; Python ints,
    floats and bools become int64, float64 and bool tensors; strings stay a
    list; dicts, tuples and lists are collated field by field (a tuple sample
    gives a list, as in PyTorch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        if _is_numpy_text(elem.dtype):
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        if elem.ndim == 0:
            return Tensor(np.asarray(batch))
        return _stack([Tensor(np.asarray(b)) for b in batch])
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        if isinstance(elem, MutableSequence):
            try:
                clone = copy.copy(elem)
                clone[:] = transposed
                return clone
            except TypeError:
                return transposed
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_COLLATE_ERR.format(type(elem)))


def default_convert(data):
    """Turn numpy arrays in ``data`` into Tensors (the collate_fn when batch_size=None)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and _is_numpy_text(data.dtype):
            return data
        return Tensor(np.asarray(data))
    if isinstance(data, Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data


def batch_getter(dataset):
    """``dataset._get_batch`` if it may stand in for per-sample loading + default_collate.

    A bare Tensor or numpy array used as a dataset is gathered directly.

    A subclass that overrides ``__getitem__`` (or ``__getitems__``) below the
    class that defines ``_get_batch`` has changed what a sample is, so its
    batches must be built from its own samples.
    """
    if isinstance(dataset, (Tensor, np.ndarray)):  # DataLoader(tensor): rows are samples
        return lambda indices: gather_rows(dataset, np.asarray(indices, dtype=np.intp))
    get_batch = getattr(dataset, "_get_batch", None)
    if get_batch is None:
        return None
    mro = type(dataset).__mro__
    owner = next((c for c in mro if "_get_batch" in c.__dict__), None)
    if owner is None:  # set on the instance: the dataset's author opted in
        return get_batch
    for name in ("__getitem__", "__getitems__"):
        defined_by = next((c for c in mro if name in c.__dict__), None)
        if defined_by is not None and defined_by is not owner and issubclass(defined_by, owner):
            return None
    return get_batch


class _MapFetcher:
    """Turns what the sampler yields (a batch of indices, or one index) into a batch."""

    def __init__(self, dataset, auto_collation, collate_fn, default_collate):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self._use_batch_getter = auto_collation and default_collate
        self._get_batch = None  # found at the first fetch, in the process that fetches

    def restart(self):
        pass

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self._use_batch_getter:
            if self._get_batch is None:
                self._get_batch = batch_getter(self.dataset) or False
            if self._get_batch:
                batch = self._get_batch(index)
                if batch is not NotImplemented:
                    return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)

    def __getstate__(self):  # a spawned worker finds its own batch getter
        return {**self.__dict__, "_get_batch": None}


class _StreamFetcher:
    """Draws the next sample (or ``batch_size`` samples) from an IterableDataset."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self._it = None  # created at the first fetch: after a worker's worker_init_fn

    def restart(self):
        self._it = None

    def fetch(self, batch_size):
        if self._it is None:
            self._it = iter(self.dataset)
        if not self.auto_collation:
            try:
                sample = next(self._it)
            except StopIteration:
                raise StreamEnd from None
            return self.collate_fn(sample)
        batch = list(itertools.islice(self._it, batch_size))
        if not batch or (self.drop_last and len(batch) < batch_size):
            raise StreamEnd
        return self.collate_fn(batch)

    def __getstate__(self):
        return {**self.__dict__, "_it": None}


class _SingleProcessIter:
    """``num_workers=0``: each batch fetched when asked for. Not a generator:
    as PyTorch's, the iterator goes on to the next batch after one raised."""

    def __init__(self, loader):
        self._fetcher = loader._make_fetcher()
        self._tasks = iter(loader._tasks())
        self._loader_len = loader.__len__

    def __iter__(self):
        return self

    def __len__(self):
        return self._loader_len()

    def __next__(self):
        task = next(self._tasks)
        try:
            return self._fetcher.fetch(task)
        except StreamEnd:
            raise StopIteration from None


# -- the loader ---------------------------------------------------------------

class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Exactly PyTorch's options and their checks. ``shuffle=True`` draws each
    epoch's order from ``generator`` (or the default generator, so
    ``manual_seed`` fixes it); with ``num_workers > 0`` the order is the same,
    and each worker's random state is seeded from it (see ``_worker.py``).
    """

    _frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
               "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        check_context(multiprocessing_context, num_workers)
        if num_workers > 0:
            warn_if_too_many_workers(num_workers)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None and not self._is_iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self._default_collate = collate_fn is None or collate_fn is default_collate
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None  # the persistent workers' iterator, once started
        self._initialized = True

    def __setattr__(self, attr, val):
        if self.__dict__.get("_initialized") and attr in self._frozen:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        if self._is_iterable:
            return self.batch_size is not None
        return self.batch_sampler is not None

    def _make_fetcher(self):
        if self._is_iterable:
            return _StreamFetcher(self.dataset, self._auto_collation, self.collate_fn,
                                  self.drop_last)
        return _MapFetcher(self.dataset, self._auto_collation, self.collate_fn,
                           self._default_collate)

    def _tasks(self):
        """What the fetcher is given per batch: indices (map-style) or a sample count (stream)."""
        if self._is_iterable:
            return itertools.repeat(self.batch_size)
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return MultiProcessIter(self)
        if self._iterator is None:
            self._iterator = MultiProcessIter(self)
        else:
            self._iterator._reset()
        return self._iterator

    def __len__(self):
        if self._is_iterable:
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last \
                    else math.ceil(length / self.batch_size)
            return length
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)


# PyTorch's submodules (aliases of the above), loaded as attributes of this package
for _name in ("dataset", "sampler", "dataloader", "distributed"):
    importlib.import_module(f".{_name}", __name__)
del _name

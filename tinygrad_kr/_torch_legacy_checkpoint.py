"""Reading ``torch.save`` files of PyTorch < 1.6 (the legacy, non-zip format)
without PyTorch and without running code.

Many of torchvision's pretrained weight files (2017-2019) are in this format:
five pickles back to back, then the raw storages.

    magic number   pickle of int 0x1950a86a20f9469cfc6c
    protocol       pickle of int 1001
    sys_info       pickle of a dict ({"little_endian": ..., ...})
    object         pickle of the object tree; tensors name their storages by
                   persistent id ('storage', type, key, location, numel, view)
    storage keys   pickle of the list of keys, in the order the data follows
    data           per key: int64 element count, then count * itemsize bytes

The object pickle comes before the data it points at, so it is read twice:
once to learn each storage's type and size (tensors are not built), and again,
after the data, to build the tensors. Both passes use the zip reader's
restricted unpickler (``_torch_checkpoint``: PyTorch's ``weights_only=True``
rule) and its tensor rebuilding, so the two formats refuse and check the same
things. Also accepted: ``torch._utils._rebuild_tensor`` (PyTorch < 0.4) and
storage views (view metadata, PyTorch < 1.0).
"""
import pickle

import numpy as np

from ._torch_checkpoint import _STORAGE_DTYPES, TorchCheckpointReader, _RestrictedUnpickler, \
    _Storage, _StorageType

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001


def is_legacy_torch_file(prefix):
    """True when ``prefix`` (a file's first bytes) starts a pickle, as a legacy file does."""
    return prefix[:1] == b"\x80"


class _FileUnpickler(_RestrictedUnpickler):
    """The restricted unpickler on an open file, plus the legacy format's globals."""

    def __init__(self, reader, f):
        pickle.Unpickler.__init__(self, f, encoding="utf-8")
        self.reader = reader

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor":
            return self.reader.rebuild_tensor   # (storage, offset, size, stride)
        if module == "torch.cuda" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        return super().find_class(module, name)


class TorchLegacyReader(TorchCheckpointReader):
    """``TorchLegacyReader(f, name, map_location, place).load()``: the object
    saved in the seekable binary file ``f``; ``place`` as the zip reader's."""

    def __init__(self, f, name, map_location, place):
        # the zip reader's fields, without its archive
        self.f = f
        self.name = name
        self.map_location = map_location
        self.place = place
        self.storages = {}
        self.warned_bfloat16 = False
        self.byteorder = "<"
        self.declared = {}    # key -> (storage type, element count), from the first pass
        self.raw = None       # key -> bytes, once the data has been read
        self.views = {}

    def load(self):
        try:
            if self._small_pickle() != MAGIC_NUMBER:
                raise self.error("not a torch.save file (bad magic number)")
            protocol = self._small_pickle()
            if protocol != PROTOCOL_VERSION:
                raise self.error(f"unsupported legacy protocol version {protocol!r}")
            sys_info = self._small_pickle()
            if not isinstance(sys_info, dict):
                raise self.error("malformed header")
            self.byteorder = "<" if sys_info.get("little_endian", True) else ">"
            start = self.f.tell()
            _FileUnpickler(self, self.f).load()          # first pass: storage types and sizes
            keys = self._small_pickle()
            self._read_storages(keys)
            self.f.seek(start)
            return _FileUnpickler(self, self.f).load()   # second pass: the tensors
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                KeyError, AttributeError) as e:
            raise self.error(f"malformed legacy torch.save file ({type(e).__name__}: {e})") \
                from None

    def _small_pickle(self):
        return _FileUnpickler(self, self.f).load()

    def _read_storages(self, keys):
        from .serialization import _read_exact
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise self.error("malformed list of storage keys")
        if sorted(keys) != sorted(self.declared):
            raise self.error("the storage data does not match the storages the tensors use")
        self.raw = {}
        order = "little" if self.byteorder == "<" else "big"
        for key in keys:
            storage_type, numel = self.declared[key]
            count = int.from_bytes(_read_exact(self.f, 8, self.name, f"storage {key}"), order,
                                   signed=True)
            if count != numel:
                raise self.error(f"storage {key} holds {count} elements, its tensors say {numel}")
            itemsize = 2 if storage_type.dtype == "bfloat16" else \
                np.dtype(storage_type.dtype).itemsize
            self.raw[key] = _read_exact(self.f, count * itemsize, self.name, f"storage {key}")

    # -- the zip reader's hooks ----------------------------------------------------
    def read_member(self, member, optional=False):
        return self.raw[member[len("data/"):]]

    def storage(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise self.error(f"unknown persistent id {pid!r}")
        _, storage_type, key, location, numel, view = pid
        if self.raw is None:
            if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) \
                    or numel < 0:
                raise self.error(f"storage {key!r} of type {storage_type!r} and size {numel!r}")
            first = self.declared.setdefault(key, (storage_type, numel))
            if (first[0].name, first[1]) != (storage_type.name, numel):
                raise self.error(f"storage {key!r} is declared twice, differently")
            return None
        root = super().storage(pid[:5])
        if view is None:
            return root
        view_key, offset, size = view
        if view_key not in self.views:
            if not (0 <= offset and 0 <= size and offset + size <= root.array.size):
                raise self.error(f"storage view {view_key!r} lies outside storage {key!r}")
            self.views[view_key] = _Storage(root.array[offset:offset + size], root.location)
        return self.views[view_key]

    def rebuild_tensor(self, storage, *args, **kwargs):
        return None if self.raw is None else super().rebuild_tensor(storage, *args, **kwargs)

    def rebuild_parameter(self, data, *args):
        return None if self.raw is None else super().rebuild_parameter(data, *args)

"""Reading PyTorch's ``torch.save`` files without PyTorch, and without running code.

    state = tinygrad_kr.load("resnet_trained_with_pytorch.pt")   # a state_dict
    model.load_state_dict(state)

A ``torch.save`` file (PyTorch >= 1.6) is a zip archive: ``<name>/data.pkl``
is a pickle of the object tree whose tensors point, through pickle's
persistent ids, at raw storages ``<name>/data/<key>``. Unpickling can call
any function a file names, so this reader has PyTorch's ``weights_only=True``
rule built in: ``find_class`` resolves only the few names a checkpoint of
weights is made of (OrderedDict, the storage types and dtypes, and
``torch._utils``' tensor and parameter rebuilders, mapped to functions here
that build our Tensors) and refuses everything else, naming it. Nothing of
PyTorch is imported.

A tensor is rebuilt from its storage, offset, sizes and strides (checked to
lie inside the storage) as a contiguous copy; bfloat16, which NumPy lacks,
comes back as float32 (exactly: a bfloat16 is the top half of a float32),
with a warning.
"""
import collections
import pickle
import warnings
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128}

_TORCH_DTYPES = {
    "float64": np.float64, "double": np.float64, "float32": np.float32, "float": np.float32,
    "float16": np.float16, "half": np.float16, "bfloat16": np.float32, "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16,
    "short": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
    "complex64": np.complex64, "complex128": np.complex128}


class _StorageType:
    """What ``torch.FloatStorage`` etc. unpickle to: a name for a dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """One raw storage of the archive, as a flat array, and where it was saved."""

    def __init__(self, array, location):
        self.array = array
        self.location = location


class TorchCheckpointReader:
    def __init__(self, f, name, map_location, place):
        self.name = name
        self.map_location = map_location
        self.place = place       # serialization's: (array, saved device) -> Tensor
        self.storages = {}
        self.warned_bfloat16 = False
        try:
            self.zip = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise self.error(f"not a readable zip archive ({e})") from None
        pickles = [n for n in self.zip.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise self.error("no single data.pkl in the archive: not a torch.save file")
        self.prefix = pickles[0][:-len("data.pkl")]
        order = self.read_member("byteorder", optional=True)
        self.byteorder = "<" if order in (None, b"little") else ">"

    def error(self, msg):
        from .serialization import CheckpointError
        return CheckpointError(f"{self.name}: {msg}")

    def read_member(self, member, optional=False):
        try:
            return self.zip.read(self.prefix + member)
        except KeyError:
            if optional:
                return None
            raise self.error(f"the archive has no {self.prefix + member}") from None
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise self.error(f"{self.prefix + member} is corrupted ({e})") from None

    def load(self):
        data = self.read_member("data.pkl")
        unpickler = _RestrictedUnpickler(self, data)
        try:
            return unpickler.load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                KeyError, AttributeError) as e:
            raise self.error(f"malformed data.pkl ({type(e).__name__}: {e})") from None

    # -- what the pickle's persistent ids and globals turn into -----------------
    def storage(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise self.error(f"unknown persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise self.error(f"storage of unknown type {storage_type!r}")
        if key not in self.storages:
            raw = self.read_member(f"data/{key}")
            if storage_type.dtype == "bfloat16":
                halves = np.frombuffer(raw, dtype=self.byteorder + "u2")
                array = (halves.astype(np.uint32) << 16).view(np.float32)
                if not self.warned_bfloat16:
                    warnings.warn(f"{self.name}: bfloat16 tensors are loaded as float32 (NumPy "
                                  f"has no bfloat16; the values are exact)", UserWarning,
                                  stacklevel=4)
                    self.warned_bfloat16 = True
            else:
                dtype = np.dtype(storage_type.dtype).newbyteorder(self.byteorder)
                if len(raw) % dtype.itemsize:
                    raise self.error(f"storage {key} holds {len(raw)} bytes, not a whole "
                                     f"number of {dtype} elements")
                array = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
            self.storages[key] = _Storage(array, str(location))
        return self.storages[key]

    def rebuild_tensor(self, storage, offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
        if not isinstance(storage, _Storage):
            raise self.error("a tensor without a storage")
        size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), \
            int(offset)
        if len(size) != len(stride) or min(size, default=1) < 0 or min(stride, default=0) < 0:
            raise self.error(f"a tensor of sizes {size} and strides {stride}")
        flat = storage.array
        count = int(np.prod(size, dtype=np.int64))
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if count else offset
        if offset < 0 or (count and last >= flat.size):
            raise self.error(f"a tensor (offset {offset}, sizes {size}, strides {stride}) "
                             f"reaches past its storage of {flat.size} elements")
        if count:
            view = np.lib.stride_tricks.as_strided(
                flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride],
                writeable=False)
            array = view.copy()     # C order, and 0-d stays 0-d
        else:
            array = np.zeros(size, flat.dtype)
        tensor = self.place(array, storage.location)
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor

    def rebuild_parameter(self, data, requires_grad, backward_hooks, *state):
        from .nn import Parameter
        return Parameter(data, requires_grad=bool(requires_grad))

    def rebuild_from_type(self, func, new_type, args, state):
        # torch._tensor._rebuild_from_type_v2: a Tensor (sub)class; we rebuild the data only
        if new_type not in ("Tensor", "Parameter"):
            raise self.error(f"refusing to rebuild a tensor of class {new_type}")
        return func(*args)


def _latin1_encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, reader, data):
        import io
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.reader = reader

    def find_class(self, module, name):
        r = self.reader
        if module == "__builtin__":
            module = "builtins"     # Python 2's name, which pickle protocol 2 (torch.save's) writes
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "_codecs" and name == "encode":
            return _latin1_encode   # how pickle protocol 2 writes bytes
        if module == "builtins" and name in ("set", "frozenset", "complex", "slice", "bytearray"):
            return {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice,
                    "bytearray": bytearray}[name]
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return r.rebuild_tensor
        if module == "torch._utils" and name in ("_rebuild_parameter",
                                                 "_rebuild_parameter_with_state"):
            return r.rebuild_parameter
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return r.rebuild_from_type
        if module == "torch" and name in ("Tensor", "nn.Parameter"):
            return name
        if module == "torch.nn.parameter" and name == "Parameter":
            return "Parameter"
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:
            return np.dtype(_TORCH_DTYPES[name])
        if module == "torch" and name == "device":
            return str
        if module == "torch" and name == "Size":
            return tuple
        hint = (" (a whole pickled model or object: save and load model.state_dict() instead)"
                if module.startswith("torch.") or module == "__main__" else "")
        raise r.error(f"refusing to load the global {module}.{name}: a checkpoint of weights "
                      f"never needs it, and loading it could run code{hint}")

    def persistent_load(self, pid):
        return self.reader.storage(pid)


def is_torch_zip(prefix):
    return prefix.startswith(b"PK\x03\x04")

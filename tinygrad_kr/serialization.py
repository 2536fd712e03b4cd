"""save / load without pickle: checkpoints that can hold no code.

    torch.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.tkr")
    state = torch.load("ckpt.tkr", map_location="cpu")

What can be saved: Tensors (dtype, shape, requires_grad kept; a tensor that
appears twice comes back as one object), numpy arrays and scalars, None,
bools, ints, floats, strings, bytes, numpy dtypes, and dicts (any of those
scalars as keys, insertion order kept; OrderedDict and Counter keep their type:
MultiStepLR's milestones are a Counter),
lists and tuples of them. Anything else raises TypeError naming where it
sits, before the file is touched.

File layout (little-endian), one self-describing record:

    magic     8 bytes  b"TKRSAVE\\x00"
    version   uint32   FORMAT_VERSION
    hlen      uint64   length of the header
    plen      uint64   length of the payload
    header    hlen bytes of UTF-8 JSON: {"format", "tree": ..., "arrays": [{"dtype",
              "shape", "offset", "nbytes"}...]}
    payload   plen bytes: the arrays' raw C-order bytes, back to back
    sha256    32 bytes: SHA-256 of everything above

Loading checks the magic, version, sizes and the hash before it parses
anything, and then only parses JSON and raw numeric bytes, so a truncated,
foreign or altered file raises CheckpointError (a RuntimeError) naming it
and runs no code. (The hash catches corruption and accidental edits; it is
not a signature against someone who rewrites the hash too.)

Saving to a path is atomic: the record goes to a temporary file in the same
directory, is fsync'ed, and replaces the target with os.replace, so a failed
save leaves the previous file intact.
"""
import collections
import hashlib
import json
import os
import secrets
import struct

import numpy as np

from . import _torch_checkpoint, _torch_legacy_checkpoint
from .tensor import Tensor, device as _device

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

MAGIC = b"TKRSAVE\x00"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQQ")  # magic, version, header length, payload length
_HASH_LEN = 32
_MAX_HEADER = 1 << 30
_ALLOWED_KINDS = "biufcSU"  # bool, ints, floats, complex, fixed-width bytes/str: no objects


class CheckpointError(RuntimeError):
    """A file that is not a valid tinygrad_kr checkpoint (truncated, foreign, altered)."""


# -- encoding: object tree -> JSON tree + list of arrays -------------------------------

def _is_parameter(obj):
    cls = type(obj)
    return cls is not Tensor and cls.__name__ == "Parameter" and isinstance(obj, Tensor)


def _host(data):
    return data if data.__class__ is np.ndarray else data.get()


class _Encoder:
    def __init__(self):
        self.arrays = []   # numpy arrays, little-endian and C-contiguous
        self.meta = []     # per array: dtype, shape
        self._by_id = {}   # id(tensor or array) -> index, so shared objects stay shared
        self._keep = []    # keeps encoded objects alive so their ids stay unique
        self._active = set()

    def array(self, arr, where, owner):
        key = id(owner)
        if key in self._by_id:
            return self._by_id[key]
        if arr.dtype.kind not in _ALLOWED_KINDS or arr.dtype.fields is not None:
            raise TypeError(f"cannot save an array of dtype {arr.dtype} at {where}: only numeric, "
                            f"bool and fixed-width string dtypes can be saved")
        little = arr.dtype.newbyteorder("<")
        arr = arr.astype(little, order="C", copy=False)  # (ascontiguousarray would make 0-d 1-d)
        self._by_id[key] = len(self.arrays)
        self._keep.append(owner)
        self.arrays.append(arr)
        self.meta.append({"dtype": little.str, "shape": list(arr.shape)})
        return self._by_id[key]

    def encode(self, obj, where="obj"):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return {"t": "int", "v": str(int(obj))}  # as text: JSON readers lose big ints
        if isinstance(obj, float):
            return {"t": "float", "v": repr(float(obj))}  # repr round-trips; covers inf/nan
        if isinstance(obj, Tensor):
            index = self.array(_host(obj.array), where, obj)
            node = {"t": "parameter" if _is_parameter(obj) else "tensor", "i": index,
                    "requires_grad": bool(obj.requires_grad), "device": str(obj.device)}
            return node
        if isinstance(obj, np.ndarray):
            return {"t": "ndarray", "i": self.array(obj, where, obj)}
        if isinstance(obj, np.generic):
            return {"t": "npscalar", "i": self.array(np.asarray(obj), where, obj)}
        if isinstance(obj, bytes):
            return {"t": "bytes", "v": obj.hex()}
        if isinstance(obj, np.dtype):
            return {"t": "dtype", "v": obj.str}
        if isinstance(obj, _device):
            return {"t": "device", "v": str(obj)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"cannot save a self-referencing structure (cycle at {where})")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = [[self.encode(k, f"{where} key {k!r}"),
                              self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]
                    kind = "odict" if isinstance(obj, collections.OrderedDict) else \
                        "counter" if isinstance(obj, collections.Counter) else "dict"
                    return {"t": kind, "items": items}
                kind = "tuple" if isinstance(obj, tuple) else "list"
                return {"t": kind, "items": [self.encode(v, f"{where}[{i}]")
                                             for i, v in enumerate(obj)]}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"cannot save object of type {type(obj).__module__}."
                        f"{type(obj).__qualname__} at {where}: tinygrad_kr.save stores only "
                        f"Tensors, numpy arrays, numbers, strings, bytes, None and "
                        f"dicts/lists/tuples of them")


def _build(obj):
    """(header bytes, arrays) for obj, validated before any file is touched."""
    enc = _Encoder()
    tree = enc.encode(obj)
    offset, arrays_meta = 0, []
    for arr, meta in zip(enc.arrays, enc.meta):
        arrays_meta.append(dict(meta, offset=offset, nbytes=arr.nbytes))
        offset += arr.nbytes
    header = {"format": "tinygrad_kr.save", "tree": tree, "arrays": arrays_meta}
    return json.dumps(header, separators=(",", ":")).encode("utf-8"), enc.arrays


def _write_record(f, header, arrays):
    h = hashlib.sha256()

    def put(chunk):
        h.update(chunk)
        f.write(chunk)

    put(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), sum(a.nbytes for a in arrays)))
    put(header)
    for arr in arrays:
        if arr.nbytes:
            put(arr.reshape(-1).view(np.uint8))  # raw bytes, no copy
    f.write(h.digest())


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Write ``obj`` to ``f`` (a path or a binary file-like object).

    The extra arguments exist for PyTorch compatibility and are ignored (no
    pickle is ever used). Writing to a path is atomic.
    """
    header, arrays = _build(obj)
    if hasattr(f, "write"):
        _write_record(f, header, arrays)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as open()
    try:
        with os.fdopen(fd, "wb") as out:
            _write_record(out, header, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# -- decoding ---------------------------------------------------------------------------

def _read_exact(f, n, name, what):
    """n bytes from f, read in bounded chunks so a lying length cannot allocate huge buffers."""
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, 1 << 26))
        if not chunk:
            raise CheckpointError(f"{name}: truncated or corrupted file: {what} needs {n} "
                                  f"bytes, found {n - left}")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _looks_like(prefix):
    if prefix.startswith(b"\x93NUMPY"):
        return " (it is a .npy file: use numpy.load)"
    return ""


def _is_location_function(map_location):
    return callable(map_location) and not isinstance(map_location, (str, _device))


def _resolve_device(map_location, saved):
    """The device a tensor saved on ``saved`` should be restored to."""
    if map_location is None or _is_location_function(map_location):
        target = saved
    elif isinstance(map_location, dict):
        target = map_location.get(saved, saved)
    else:
        target = map_location
    try:
        return _device(target)
    except (RuntimeError, ValueError, TypeError) as e:
        raise ValueError(f"map_location: invalid device {target!r} ({e})") from None


def _place(array, saved, map_location, name):
    """A host array as the Tensor ``map_location`` asks for; ``saved`` names
    the device it was saved from."""
    dev = _resolve_device(map_location, saved)
    try:
        tensor = Tensor(array)
    except TypeError as e:
        raise CheckpointError(f"{name}: malformed checkpoint: tensor of unsupported dtype "
                              f"{array.dtype} ({e})") from None
    if _is_location_function(map_location):
        # PyTorch's function form, map_location(storage, location): it gets the
        # tensor as loaded on the host and the saved device's name, and returns
        # the tensor to use (``lambda storage, loc: storage`` keeps it on the
        # CPU), or None for the default (the saved device).
        mapped = map_location(tensor, saved)
        if mapped is not None:
            if not isinstance(mapped, Tensor):
                raise TypeError(f"map_location function must return a Tensor or None, "
                                f"got {type(mapped).__name__}")
            tensor, dev = mapped, _device("cpu")
    if dev.type != "cpu":
        try:
            tensor = tensor.to(dev)
        except RuntimeError as e:
            raise RuntimeError(f"{name}: cannot restore a tensor on {dev}: {e}. On a "
                               f"machine without CUDA, load with map_location='cpu'.") from None
    return tensor


class _Decoder:
    def __init__(self, name, arrays, map_location):
        self.name = name
        self.arrays = arrays
        self.map_location = map_location
        self._objects = {}  # (kind, index) -> restored object: shared stays shared

    def bad(self, msg):
        return CheckpointError(f"{self.name}: malformed checkpoint: {msg}")

    def array(self, node):
        i = node.get("i")
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.arrays):
            raise self.bad(f"array index {i!r} out of range")
        return self.arrays[i]

    def decode(self, node):
        if node is None or isinstance(node, (bool, str)):
            return node
        if not isinstance(node, dict):
            raise self.bad(f"unexpected node {type(node).__name__}")
        t = node.get("t")
        try:
            if t == "int":
                return int(node["v"])
            if t == "float":
                return float(node["v"])
            if t == "bytes":
                return bytes.fromhex(node["v"])
            if t == "dtype":
                return np.dtype(node["v"])
            if t == "device":
                return _device(node["v"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise self.bad(f"bad {t} value ({e})") from None
        if t in ("tensor", "parameter", "ndarray", "npscalar"):
            key = (t, node.get("i"))
            if key not in self._objects:
                self._objects[key] = self.leaf(t, node)
            return self._objects[key]
        if t in ("list", "tuple"):
            items = [self.decode(v) for v in self.items(node)]
            return items if t == "list" else tuple(items)
        if t in ("dict", "odict", "counter"):
            out = collections.OrderedDict() if t == "odict" else \
                collections.Counter() if t == "counter" else {}
            for pair in self.items(node):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.bad("dict item is not a [key, value] pair")
                key, value = self.decode(pair[0]), self.decode(pair[1])
                try:
                    out[key] = value
                except TypeError:
                    raise self.bad(f"unhashable dict key {key!r}") from None
            return out
        raise self.bad(f"unknown node type {t!r}")

    def items(self, node):
        items = node.get("items")
        if not isinstance(items, list):
            raise self.bad(f"{node.get('t')} node without items")
        return items

    def leaf(self, t, node):
        arr = self.array(node)
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=True)  # native, writable, owns memory
        if t == "ndarray":
            return arr
        if t == "npscalar":
            return arr[()]
        tensor = _place(arr, str(node.get("device", "cpu")), self.map_location, self.name)
        if t == "parameter":
            from .nn import Parameter
            return Parameter(tensor, requires_grad=bool(node.get("requires_grad", True)))
        if node.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor


def _read_record(f, name):
    """(header dict, raw payload bytes) after checking magic, version, sizes and SHA-256."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        if prefix[:8] == MAGIC[:len(prefix)] and len(prefix) < _PREFIX.size:
            raise CheckpointError(f"{name}: truncated file ({len(prefix)} bytes)")
        raise CheckpointError(f"{name}: not a tinygrad_kr checkpoint (bad magic number)"
                              f"{_looks_like(prefix)}")
    _, version, header_len, payload_len = _PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{name}: checkpoint format version {version} is not supported "
                              f"(this tinygrad_kr reads version {FORMAT_VERSION})")
    if header_len > _MAX_HEADER:
        raise CheckpointError(f"{name}: corrupt header length {header_len}")
    header_bytes = _read_exact(f, header_len, name, "the header")
    payload = _read_exact(f, payload_len, name, "the tensor data")
    digest = _read_exact(f, _HASH_LEN, name, "the SHA-256 trailer")
    h = hashlib.sha256(prefix)
    h.update(header_bytes)
    h.update(payload)
    if digest != h.digest():
        raise CheckpointError(f"{name}: checksum mismatch: the file was altered or corrupted "
                              f"(SHA-256 of its contents does not match the one it was saved "
                              f"with)")
    try:  # intact from here on; a failure below means a hand-made file
        header = json.loads(header_bytes.decode("utf-8"))
        if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
            raise ValueError("no array table")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{name}: malformed checkpoint header ({e})") from None
    return header, payload


def _arrays_from(header, payload, name):
    arrays = []
    for i, meta in enumerate(header["arrays"]):
        try:
            dtype = np.dtype(meta["dtype"])
            shape = tuple(int(s) for s in meta["shape"])
            offset, nbytes = int(meta["offset"]), int(meta["nbytes"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{name}: malformed array entry {i} ({e})") from None
        if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.hasobject:
            raise CheckpointError(f"{name}: array {i} has disallowed dtype {dtype}")
        count = int(np.prod(shape, dtype=np.int64))
        if min(shape, default=0) < 0 or count * dtype.itemsize != nbytes or offset < 0 \
                or offset + nbytes > len(payload):
            raise CheckpointError(f"{name}: array {i} ({dtype}, {shape}) does not fit the data")
        arrays.append(np.frombuffer(payload, dtype, count=count, offset=offset).reshape(shape))
    return arrays


def _torch_format(f):
    """'zip' or 'legacy' for a file torch.save may have written, else None."""
    if hasattr(f, "read"):
        if not (hasattr(f, "seekable") and f.seekable()):
            return None
        start = f.tell()
        prefix = f.read(4)
        f.seek(start)
    else:
        try:
            with open(os.fspath(f), "rb") as fh:
                prefix = fh.read(4)
        except OSError:
            return None   # open() below raises the error that names the problem
    if _torch_checkpoint.is_torch_zip(prefix):
        return "zip"
    if _torch_legacy_checkpoint.is_legacy_torch_file(prefix):
        return "legacy"
    return None


def _load_torch_file(f, kind, map_location):
    name = str(getattr(f, "name", None) or "<stream>") if hasattr(f, "read") else os.fspath(f)
    reader = _torch_checkpoint.TorchCheckpointReader if kind == "zip" \
        else _torch_legacy_checkpoint.TorchLegacyReader

    def place(array, saved):
        return _place(array, saved, map_location, name)

    if hasattr(f, "read"):
        return reader(f, name, map_location, place).load()
    with open(name, "rb") as fh:
        return reader(fh, name, map_location, place).load()


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Read what ``save`` wrote from a path or binary file-like object, or a
    file PyTorch's ``torch.save`` wrote (its zip format, ``_torch_checkpoint.py``,
    or the format of PyTorch < 1.6, ``_torch_legacy_checkpoint.py``; read
    with PyTorch's ``weights_only=True`` rule, without PyTorch).

    ``map_location``: None (each tensor back on the device it was saved from),
    'cpu', 'cuda[:i]', a ``tinygrad_kr.device``, a dict mapping saved
    device names to target ones, or a function ``(tensor, saved_device) ->
    Tensor or None`` (PyTorch's ``lambda storage, loc: storage``).
    ``weights_only`` is accepted for PyTorch compatibility; neither format is
    ever read in a way that runs code.
    """
    kind = _torch_format(f)
    if kind is not None:
        return _load_torch_file(f, kind, map_location)
    if hasattr(f, "read"):
        name = getattr(f, "name", None) or "<stream>"
        header, payload = _read_record(f, str(name))
    else:
        name = os.fspath(f)
        with open(name, "rb") as fh:
            header, payload = _read_record(fh, name)
            trailing = fh.read(1)
        if trailing:
            raise CheckpointError(f"{name}: unexpected bytes after the end of the checkpoint")
    if header.get("format") != "tinygrad_kr.save":
        raise CheckpointError(f"{name}: header does not describe a tinygrad_kr checkpoint")
    arrays = _arrays_from(header, payload, str(name))
    try:
        return _Decoder(str(name), arrays, map_location).decode(header.get("tree"))
    except RecursionError:
        raise CheckpointError(f"{name}: malformed checkpoint: structure nested too deeply") from None

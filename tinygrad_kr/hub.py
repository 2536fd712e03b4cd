"""torch.hub's weight cache: ``load_state_dict_from_url``, ``download_url_to_file``,
``get_dir`` / ``set_dir`` (no hubconf repositories).

    state = tinygrad_kr.hub.load_state_dict_from_url(
        "https://download.pytorch.org/models/resnet18-f37072fd.pth", check_hash=True)

Files live where PyTorch keeps them, so one download serves both:
``<hub_dir>/checkpoints/<file name in the URL>`` with ``hub_dir`` =
``set_dir(d)``, else ``$TORCH_HOME/hub``, ``$TORCH_HOME`` defaulting to
``$XDG_CACHE_HOME/torch`` and that to ``~/.cache/torch``. A cached file is
used as it is; a download goes to a temporary file in the same folder, is
checked against the SHA-256 prefix in its name (``name-<sha256 prefix>.ext``)
when ``check_hash`` is set, and only then renamed into place. Without a
network the error names the URL and the path to copy the file to. The file
is read with ``tinygrad_kr.load`` (PyTorch's zip format, never running code),
or, when it predates PyTorch 1.6, with ``_torch_legacy_checkpoint``.
"""
import hashlib
import http.client
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["get_dir", "set_dir", "download_url_to_file", "load_state_dict_from_url"]

# torch.hub's rule: the hash is the hex run after the last '-' before a '.'
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_CHUNK = 1 << 20
# URLError (HTTPError included) is what urlopen raises; the others can come from read()
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                   TimeoutError, ssl.SSLError)
_hub_dir = None


def _get_torch_home():
    return os.path.expanduser(os.getenv(
        "TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")))


def get_dir():
    """The hub directory: ``set_dir``'s, else ``$TORCH_HOME/hub``."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d):
    """Use ``d`` as the hub directory (weights go to ``d/checkpoints``)."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def _progress_bar(total, enabled):
    """tqdm's bar when it is installed and wanted, else a no-op with its ``update``."""
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024)
        except ImportError:
            pass

    class _Silent:
        def update(self, n):
            pass

        def close(self):
            pass
    return _Silent()


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download ``url`` to ``dst`` atomically: a temporary file beside ``dst``
    that replaces it only once complete and, with ``hash_prefix``, only if its
    SHA-256 starts with it (RuntimeError otherwise, as torch.hub).

    Network failures (no connection, HTTP errors) raise RuntimeError naming
    the URL and ``dst``, where a file fetched on another machine can be put."""
    dst = os.path.abspath(os.path.expanduser(os.fspath(dst)))
    directory = os.path.dirname(dst)
    os.makedirs(directory, exist_ok=True)
    # a fresh name beside dst (so os.replace is atomic), created with the usual permissions
    tmp = f"{dst}.{uuid.uuid4().hex}.partial"
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_kr.hub"})
    try:
        sha256 = hashlib.sha256()
        with open(tmp, "xb") as out:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    length = response.headers.get("Content-Length")
                    bar = _progress_bar(int(length) if length else None, progress)
                    try:
                        for chunk in iter(lambda: response.read(_CHUNK), b""):
                            sha256.update(chunk)
                            out.write(chunk)
                            bar.update(len(chunk))
                    finally:
                        bar.close()
            except _NETWORK_ERRORS as e:  # not a failed write: that error is the user's
                reason = getattr(e, "reason", None) or e
                raise RuntimeError(
                    f"could not download {url} ({reason}). Without a network connection, "
                    f"fetch that file elsewhere and put it at {dst}") from e
        if hash_prefix is not None:
            digest = sha256.hexdigest()
            if digest[:len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{digest}") for {url}')
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """What ``tinygrad_kr.load`` reads from the cached copy of ``url``,
    downloading it first if it is not in ``model_dir`` (default
    ``get_dir()/checkpoints``). ``check_hash`` checks a download against the
    SHA-256 prefix in its file name; a file already in the cache is trusted,
    as torch.hub does. ``weights_only`` is accepted for PyTorch
    compatibility: checkpoints are never read in a way that runs code."""
    from .serialization import load
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    filename = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached_file = os.path.join(os.path.expanduser(os.fspath(model_dir)), filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None,
                             progress=progress)
    # load reads both of torch.save's formats (many of torchvision's files
    # predate the zip format of PyTorch 1.6)
    return load(cached_file, map_location=map_location)

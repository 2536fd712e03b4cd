"""Write MNIST as standard gzipped IDX files (train/t10k images and labels)
into DIR/MNIST/raw, from whatever source tinygrad_kr's MNIST loader finds
here (the `experiments` extra's offline copy).  For machines that cannot
install that extra, e.g. the GPU machines: tools/gpu_check.sh reads .gpudata.
    python tools/export_mnist_idx.py [DIR]        (default: .gpudata)"""
import gzip
import os
import struct
import sys

import numpy as np

from tinygrad_kr.vision.datasets import MNIST


def write_idx(path, array):
    """IDX: magic 0x08 (unsigned byte) + number of dims, the dims big-endian, the data."""
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main(root):
    out = os.path.join(root, "MNIST", "raw")
    os.makedirs(out, exist_ok=True)
    for train, prefix in [(True, "train"), (False, "t10k")]:
        ds = MNIST(os.path.join(root, "_unused"), train=train)
        write_idx(os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"), ds.data.numpy())
        write_idx(os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"), ds.targets.numpy())
        print(f"{prefix}: {len(ds)} images from {ds.source}")
    check = MNIST(root, train=False)
    print(f"read back: {len(check)} test images from {check.source}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".gpudata")

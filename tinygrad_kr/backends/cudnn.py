"""torch.backends.cudnn: the flags are kept; the GPU convolutions here are the
engine's own (im2col + cuBLAS) and deterministic whatever they say."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None

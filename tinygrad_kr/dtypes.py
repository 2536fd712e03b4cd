"""dtypes: NumPy's dtype objects under PyTorch's names (``tinygrad_kr.float32``)."""
import numpy as np

float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
float16 = half = np.dtype("float16")
int64 = long = np.dtype("int64")
int32 = int = np.dtype("int32")
int16 = short = np.dtype("int16")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")  # noqa: A001 (PyTorch's name)

SUPPORTED = {float32, float64, float16, int64, int32, int16, int8, uint8, bool}
_default = [float32]


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    d = np.dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def check_dtype(dtype):
    """np.dtype(dtype), or TypeError naming an unsupported dtype."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unsupported dtype {dtype!r}") from None
    if d not in SUPPORTED:
        raise TypeError(f"unsupported dtype {d} (supported: float16, float32, float64, int8, "
                        f"int16, int32, int64, uint8, bool)")
    return d


# PyTorch's scalar-type names, as its error messages print a dtype (float32 -> 'Float')
_SCALAR_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                      "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                      "int8": "Char", "uint8": "Byte", "bool": "Bool",
                      "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(dtype):
    """PyTorch's name of ``dtype`` in its messages: 'Float', 'Long', ..."""
    name = np.dtype(dtype).name
    return _SCALAR_TYPE_NAMES.get(name, name)

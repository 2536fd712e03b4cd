"""The protocol buffers TensorBoard reads, built from NumPy arrays.

Each public builder returns a ``Summary`` (or, for ``hparams``, three of
them) that :class:`~tinygrad_kr.utils.tensorboard.writer.FileWriter` wraps
in an ``Event``.  The messages, tags, plugin names and the way values become
histogram buckets, PNG images and precision-recall tables are those of
``torch.utils.tensorboard.summary``, so TensorBoard shows a tinygrad_kr run
exactly as it shows a PyTorch one (tests/test_tensorboard.py compares the
decoded events of both writers).  The messages themselves come from the
``tensorboard`` package: nothing here encodes protobuf by hand.

This module imports ``tensorboard`` at the top; ``writer.py`` imports it only
when a writer is made, so ``import tinygrad_kr.utils.tensorboard`` costs
nothing without the package.
"""
import io
import math

import numpy as np

from ...tensor import Tensor

TENSORBOARD_HINT = 'pip install "tinygrad_kr[tensorboard]"'

try:
    from google.protobuf import struct_pb2
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
except ImportError as e:
    raise ImportError(f"tinygrad_kr.utils.tensorboard needs the 'tensorboard' package "
                      f"({e}): {TENSORBOARD_HINT}") from e

__all__ = ["to_numpy", "scalar", "histogram", "histogram_raw", "make_histogram",
           "tensorflow_bins", "image", "make_image", "convert_to_HWC", "make_grid",
           "figure_to_image", "text", "hparams", "pr_curve", "pr_curve_raw", "compute_curve",
           "custom_scalars"]


# -- values from the user ---------------------------------------------------------

def to_numpy(x):
    """A NumPy array of ``x``: a Tensor (detached; a GPU one copied to the host),
    an ndarray (as it is) or a number (a 1-element array, as PyTorch's writer)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.detach().numpy(force=True)
    if np.isscalar(x):
        return np.array([x])
    raise NotImplementedError(
        f"Got {type(x)}, but numpy array or tinygrad_kr Tensor are expected.")


# -- scalars ----------------------------------------------------------------------

def scalar(name, value, new_style=False, double_precision=False):
    """One number: ``simple_value`` (old style) or a 0-d tensor of the ``scalars``
    plugin (new style; float32 unless ``double_precision``)."""
    value = to_numpy(value).squeeze()
    if value.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). "
                             f"Was given size: {value.size} and {value.ndim} dimensions.")
    number = float(value)
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=number)])
    if double_precision:
        tensor = TensorProto(double_val=[number], dtype="DT_DOUBLE")
    else:
        tensor = TensorProto(float_val=[number], dtype="DT_FLOAT")
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=name, tensor=tensor, metadata=metadata)])


# -- histograms -------------------------------------------------------------------

_TENSORFLOW_BINS = None


def tensorflow_bins():
    """TensorFlow's default bucket edges: 0 and +-1e-12 * 1.1**k up to 1e20.

    Built by repeated multiplication, as TensorBoard's generate_testdata.py and
    PyTorch do, so that the edges are the same floats bit for bit."""
    global _TENSORFLOW_BINS
    if _TENSORFLOW_BINS is None:
        edge, positive = 1e-12, []
        while edge < 1e20:
            positive.append(edge)
            edge *= 1.1
        _TENSORFLOW_BINS = [-e for e in reversed(positive)] + [0] + positive
    return _TENSORFLOW_BINS


def make_histogram(values, bins, max_bins=None):
    """A ``HistogramProto`` of ``values`` (float64, any shape) over ``bins`` (edges,
    or anything ``np.histogram`` takes), with at most about ``max_bins`` buckets.

    TensorBoard stores only each bucket's right edge, so the bucket left of the
    first non-empty one is kept (empty) to carry the left edge; empty buckets
    beyond the data on either side are dropped."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, edges = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        # merge groups of `group` neighbouring buckets (PyTorch's rule: the
        # result may keep a few more than max_bins)
        group = len(counts) // max_bins
        short = len(counts) % group
        if short:
            counts = np.pad(counts, (0, group - short))
        counts = counts.reshape(-1, group).sum(axis=-1)
        edges = np.append(edges[:-1:group], edges[-1])
    nonempty = np.flatnonzero(counts)
    if nonempty.size == 0:
        raise ValueError("The histogram is empty: no value lies inside the bins "
                         "(a NaN, or a magnitude of 1e20 or more with the 'tensorflow' bins).")
    first, last = int(nonempty[0]), int(nonempty[-1])
    if first > 0:
        counts = counts[first - 1:last + 1]
    else:
        counts = np.concatenate([[0], counts[:last + 1]])
    edges = edges[first:last + 2]
    return HistogramProto(min=values.min(), max=values.max(), num=len(values),
                          sum=values.sum(), sum_squares=values.dot(values),
                          bucket_limit=edges.tolist(), bucket=counts.tolist())


def histogram(name, values, bins, max_bins=None):
    """A histogram of ``values`` (a Tensor or array, any shape); ``bins`` as np.histogram's,
    or "tensorflow" for :func:`tensorflow_bins`."""
    if isinstance(bins, str) and bins == "tensorflow":
        bins = tensorflow_bins()
    hist = make_histogram(to_numpy(values).astype(float), bins, max_bins)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A histogram given by its statistics and buckets (right edges and counts)."""
    hist = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                          bucket_limit=bucket_limits, bucket=bucket_counts)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


# -- images -----------------------------------------------------------------------

def make_grid(images, ncols=8):
    """Images (N, 1 or 3, H, W) side by side, ``ncols`` a row, on a black (3, H', W') canvas
    of their dtype (grey images repeated to RGB)."""
    if images.ndim == 4 and images.shape[1] == 1:
        images = np.concatenate([images] * 3, axis=1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    n, _, h, w = images.shape
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    canvas = np.zeros((3, h * nrows, w * ncols), dtype=images.dtype)
    for i, img in enumerate(images):
        row, col = divmod(i, ncols)
        canvas[:, row * h:(row + 1) * h, col * w:(col + 1) * w] = img
    return canvas


def convert_to_HWC(array, dataformats):
    """``array`` laid out as ``dataformats`` (NCHW, CHW, HWC, HW or any order of their
    letters) as one (H, W, C) image: a batch becomes a grid, grey becomes RGB."""
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError(f"You can not use the same dimension shorthand twice. "
                             f"input_format: {dataformats}")
    if array.ndim != len(dataformats):
        raise AssertionError(f"size of input tensor and input format are different. "
                             f"tensor shape: {array.shape}, input_format: {dataformats}")
    layout = dataformats.upper()
    wanted = {4: "NCHW", 3: "HWC", 2: "HW"}.get(len(layout))
    if wanted is None or set(layout) != set(wanted):
        raise AssertionError(f"dataformats must be an order of NCHW, CHW/HWC or HW, "
                             f"got {dataformats}")
    array = array.transpose([layout.index(c) for c in wanted])
    if len(layout) == 4:
        return make_grid(array).transpose(1, 2, 0)
    if len(layout) == 3:
        return np.concatenate([array] * 3, axis=2) if array.shape[2] == 1 else array
    return np.stack([array] * 3, axis=2)


def make_image(hwc_uint8):
    """An ``Summary.Image`` holding the PNG of an (H, W, 3 or 4) uint8 array."""
    from PIL import Image

    height, width, channels = hwc_uint8.shape
    buffer = io.BytesIO()
    Image.fromarray(hwc_uint8).save(buffer, format="PNG")
    return Summary.Image(height=height, width=width, colorspace=channels,
                         encoded_image_string=buffer.getvalue())


def image(tag, img, dataformats="NCHW"):
    """An image (or a grid of a batch): uint8 values as they are, any other dtype
    taken as [0, 1] and scaled by 255; out-of-range values are clipped."""
    hwc = convert_to_HWC(to_numpy(img), dataformats)
    # the dtype says the range: uint8 is [0, 255], anything else [0, 1]
    scale = 1 if hwc.dtype == np.uint8 else 255
    hwc = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=make_image(hwc))])


def figure_to_image(figures, close=True):
    """A matplotlib figure rendered as a (3, H, W) uint8 array, or a list of them as
    (N, 3, H, W); ``close`` closes each figure in pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def render(figure):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        width, height = canvas.get_width_height()
        rgba = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(height, width, 4)
        if close:
            import matplotlib.pyplot as plt
            plt.close(figure)
        return np.moveaxis(rgba[:, :, :3], 2, 0)

    if isinstance(figures, list):
        return np.stack([render(f) for f in figures])
    return render(figures)


# -- text, hyperparameters, curves, layouts ---------------------------------------

def text(tag, text_string):
    """A string for the text plugin (shown as markdown), under ``tag/text_summary``."""
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata,
                                        tensor=tensor)])


def _hparams_summary(tag, **data):
    from tensorboard.plugins.hparams.metadata import PLUGIN_DATA_VERSION, PLUGIN_NAME
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = HParamsPluginData(version=PLUGIN_DATA_VERSION, **data).SerializeToString()
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=PLUGIN_NAME, content=content))
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The hparams plugin's (experiment, session start, session end) summaries.

    A value is a number (bool included: it is an int, as in PyTorch), a string,
    a one-element Tensor, or None (left out)."""
    from tensorboard.plugins.hparams import metadata
    from tensorboard.plugins.hparams.api_pb2 import (DataType, Experiment, HParamInfo,
                                                     MetricInfo, MetricName, Status)
    from tensorboard.plugins.hparams.plugin_data_pb2 import SessionEndInfo, SessionStartInfo

    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, "
                        "nothing logged.")
    for k, values in domains.items():
        if (k not in hparam_dict or not isinstance(values, list)
                or not all(isinstance(d, type(hparam_dict[k])) for d in values)):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of "
                            f"same type as hparam_dict[{k}].")

    start, infos = SessionStartInfo(), []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, Tensor):  # as PyTorch: a number, with no discrete domain
            start.hparams[k].number_value = float(to_numpy(v).reshape(-1)[0])
            infos.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_FLOAT64")))
            continue
        if isinstance(v, (int, float)):
            start.hparams[k].number_value = v
            kind, field = "DATA_TYPE_FLOAT64", "number_value"
        elif isinstance(v, str):
            start.hparams[k].string_value = v
            kind, field = "DATA_TYPE_STRING", "string_value"
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        domain = None
        if k in domains:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d})
                                                  for d in domains[k]])
        infos.append(HParamInfo(name=k, type=DataType.Value(kind), domain_discrete=domain))

    experiment = Experiment(hparam_infos=infos,
                            metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    end = SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))
    return (_hparams_summary(metadata.EXPERIMENT_TAG, experiment=experiment),
            _hparams_summary(metadata.SESSION_START_INFO_TAG, session_start_info=start),
            _hparams_summary(metadata.SESSION_END_INFO_TAG, session_end_info=end))


def compute_curve(labels, predictions, num_thresholds, weights=None):
    """(6, num_thresholds) float64: TP, FP, TN, FN, precision, recall at thresholds
    i / (num_thresholds - 1) (TensorBoard's pr_curve summary)."""
    weights = 1.0 if weights is None else weights
    bucket = np.int32(np.floor(predictions * (num_thresholds - 1)))
    positive = labels.astype(np.float64)
    span = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(bucket, bins=num_thresholds, range=span,
                                 weights=positive * weights)
    fp_buckets, _ = np.histogram(bucket, bins=num_thresholds, range=span,
                                 weights=(1.0 - positive) * weights)
    # a prediction counts as positive at every threshold at or below its bucket
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _pr_curve_summary(tag, table, num_thresholds):
    content = PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="pr_curves", content=content))
    tensor = TensorProto(dtype="DT_FLOAT", float_val=table.reshape(-1).tolist(),
                         tensor_shape=TensorShapeProto(
                             dim=[TensorShapeProto.Dim(size=n) for n in table.shape]))
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    """A precision-recall curve of 0/1 ``labels`` and ``predictions`` in [0, 1]."""
    num_thresholds = min(num_thresholds, 127)  # PyTorch's cap: more breaks the plugin
    table = compute_curve(labels, predictions, num_thresholds=num_thresholds, weights=weights)
    return _pr_curve_summary(tag, table, num_thresholds)


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127):
    """A precision-recall curve given by its six rows."""
    num_thresholds = min(num_thresholds, 127)
    table = np.stack([to_numpy(r) for r in (tp, fp, tn, fn, precision, recall)])
    return _pr_curve_summary(tag, table, num_thresholds)


def custom_scalars(layout):
    """The custom_scalars plugin's layout: {category: {chart: ["Multiline" | "Margin",
    tags]}} (a margin chart takes exactly 3 tags: value, lower, upper)."""
    categories = []
    for category, charts in layout.items():
        built = []
        for title, chart in charts.items():
            tags = chart[1]
            if chart[0] == "Margin":
                if len(tags) != 3:
                    raise AssertionError("len(tags) != 3")
                series = layout_pb2.MarginChartContent.Series(value=tags[0], lower=tags[1],
                                                              upper=tags[2])
                built.append(layout_pb2.Chart(
                    title=title, margin=layout_pb2.MarginChartContent(series=[series])))
            else:
                built.append(layout_pb2.Chart(
                    title=title, multiline=layout_pb2.MultilineChartContent(tag=tags)))
        categories.append(layout_pb2.Category(title=category, chart=built))
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="custom_scalars"))
    tensor = TensorProto(dtype="DT_STRING",
                         string_val=[layout_pb2.Layout(category=categories).SerializeToString()],
                         tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag="custom_scalars__config__", tensor=tensor,
                                        metadata=metadata)])

"""tinygrad_kr.utils.tensorboard.SummaryWriter: what it writes, read back with
TensorBoard's own readers (EventAccumulator, the projector's config parser, PIL for
the PNGs), and, where PyTorch is installed, the same event files as
torch.utils.tensorboard's writer for the same calls (every Event field but the wall
time, and the projector files byte for byte)."""
import io
import json
import os
import socket
import subprocess
import sys
import types

import numpy as np
import pytest

import tinygrad_kr as tg
from needs import unavailable
from torch_compat import torch_message
from tinygrad_kr.utils.tensorboard import SummaryWriter

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.util import tensor_util
except ImportError:
    EventAccumulator = None


@pytest.fixture(autouse=True)
def tensorboard_installed():
    if EventAccumulator is None:
        unavailable('tensorboard is not installed (pip install "tinygrad_kr[tensorboard]")')


def read(logdir):
    """Everything TensorBoard loads from one run folder (no sampling)."""
    keep_all = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0,
                "compressedHistograms": 0}
    return EventAccumulator(str(logdir), size_guidance=keep_all).Reload()


def load_events(path):
    """The Events of an event file as written (TensorBoard's EventFileLoader would turn
    histograms into float32 tensors on the way)."""
    return [Event.FromString(record) for record in RawEventFileLoader(path).Load()]


def events(path):
    """The Events of the one event file in folder ``path``."""
    files = [f for f in os.listdir(path) if f.startswith("events.out.tfevents")]
    assert len(files) == 1, files
    return load_events(os.path.join(path, files[0]))


def png(image_event):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))


# -- scalars ---------------------------------------------------------------------

def test_scalars_from_numbers_arrays_and_tensors(tmp_path):
    w = tg.ones(3, requires_grad=True)
    loss = (w * 2).sum()  # a graph output: written without .item() or .detach()
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", 0.5, 0)
        writer.add_scalar("loss", np.float32(0.25), np.int64(1))
        writer.add_scalar("loss", np.array([[0.125]]), 2)
        writer.add_scalar("loss", loss, 3)
        writer.add_scalar("loss", tg.tensor([7], dtype=tg.int64), 4)
        writer.add_scalar("new", 0.1, 5, new_style=True)
        writer.add_scalar("new64", 0.1, 5, new_style=True, double_precision=True)
        writer.add_scalar("wall", 1.0, walltime=1234.5)
    acc = read(tmp_path)
    assert [(s.step, s.value) for s in acc.Scalars("loss")] == [
        (0, 0.5), (1, 0.25), (2, 0.125), (3, 6.0), (4, 7.0)]
    assert acc.Scalars("wall")[0].wall_time == 1234.5
    # new style: a 0-d tensor of the scalars plugin, float32 unless asked for float64
    (single,), (double,) = acc.Tensors("new"), acc.Tensors("new64")
    assert single.step == 5 and double.step == 5
    assert tensor_util.make_ndarray(single.tensor_proto).dtype == np.float32
    assert tensor_util.make_ndarray(single.tensor_proto) == np.float32(0.1)
    assert tensor_util.make_ndarray(double.tensor_proto) == 0.1
    assert acc.SummaryMetadata("new").plugin_data.plugin_name == "scalars"


def test_a_scalar_must_hold_one_value(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            writer.add_scalar("x", tg.tensor([1.0, 2.0]), 0)
        with pytest.raises(NotImplementedError, match="numpy array or tinygrad_kr Tensor"):
            writer.add_scalar("x", [1.0], 0)


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalars("loss/all", {"train": step * 1.0, "test": step * 2.0}, step)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "loss_all_test", "loss_all_train"]
    runs = {}
    for tag, factor in (("train", 1.0), ("test", 2.0)):
        acc = read(tmp_path / f"loss_all_{tag}")
        assert acc.Tags()["scalars"] == ["loss/all"]
        runs[tag] = acc.Scalars("loss/all")
        assert [(s.step, s.value) for s in runs[tag]] == [
            (step, step * factor) for step in range(3)]
    # one call, one time stamp for all its values
    assert [s.wall_time for s in runs["train"]] == [s.wall_time for s in runs["test"]]


def test_custom_scalars_layout(tmp_path):
    from tensorboard.plugins.custom_scalar import layout_pb2
    with SummaryWriter(tmp_path) as writer:
        writer.add_custom_scalars({"losses": {"both": ["Multiline", ["loss/a", "loss/b"]],
                                              "band": ["Margin", ["m", "lo", "hi"]]}})
        with pytest.raises(AssertionError, match="Expected 3 tags, got 2"):
            writer.add_custom_scalars_marginchart(["m", "lo"])
    (event,) = read(tmp_path).Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(tensor_util.make_ndarray(event.tensor_proto).item())
    (category,) = layout.category
    assert category.title == "losses"
    both, band = category.chart
    assert (both.title, list(both.multiline.tag)) == ("both", ["loss/a", "loss/b"])
    series = band.margin.series[0]
    assert (band.title, series.value, series.lower, series.upper) == ("band", "m", "lo", "hi")


# -- histograms ------------------------------------------------------------------

def check_buckets(histo, values):
    """TensorBoard's buckets: each count belongs to (previous limit, its limit]; the
    first bucket is the empty one that carries the left edge."""
    limits, counts = np.array(histo.bucket_limit), np.array(histo.bucket)
    assert counts[0] == 0 and counts[1] > 0 and counts[-1] > 0
    assert np.all(np.diff(limits) > 0)
    assert np.array_equal(np.histogram(values, bins=limits)[0], counts[1:])
    assert histo.num == values.size and counts.sum() == values.size
    assert histo.min == values.min() and histo.max == values.max()
    assert histo.sum == pytest.approx(values.sum(), rel=1e-12)
    assert histo.sum_squares == pytest.approx((values ** 2).sum(), rel=1e-12)


def test_histogram_with_tensorflows_buckets(tmp_path):
    values = np.random.default_rng(0).normal(0, 3, size=(40, 25))
    values[0, :3] = [0.0, 1e-13, -5e3]
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("w", tg.tensor(values, requires_grad=True), 7)
        default = np.array(writer.default_bins)
    # TensorFlow's edges: 0 and +-1e-12 * 1.1**k below 1e20, symmetric
    positive = default[default > 0]
    assert np.array_equal(default, np.concatenate([-positive[::-1], [0], positive]))
    assert positive[0] == 1e-12 and positive[-1] < 1e20 <= positive[-1] * 1.1
    assert np.allclose(positive[1:] / positive[:-1], 1.1, rtol=1e-12)

    (event,) = read(tmp_path).Histograms("w")
    assert event.step == 7
    check_buckets(event.histogram_value, values.reshape(-1))
    assert set(event.histogram_value.bucket_limit) <= set(default.tolist())


@pytest.mark.parametrize("bins,max_bins", [("auto", None), ("fd", None), (30, None),
                                           (30, 7), (np.linspace(-4, 4, 9), None)])
def test_histogram_with_numpy_bins(tmp_path, bins, max_bins):
    values = np.random.default_rng(1).normal(size=500).astype(np.float32)
    values = values[np.abs(values) < 4]
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("h", values, 0, bins=bins, max_bins=max_bins)
    (event,) = read(tmp_path).Histograms("h")
    histo = event.histogram_value
    check_buckets(histo, values.astype(np.float64))
    if isinstance(bins, str):
        edges = np.histogram_bin_edges(values.astype(np.float64), bins=bins)
        assert set(histo.bucket_limit) <= set(edges.tolist())
    elif max_bins is not None:
        # 30 buckets merged 4 by 4 (30 // 7): 8 of them, the last one padded
        edges = np.histogram_bin_edges(values.astype(np.float64), bins=30)
        assert set(histo.bucket_limit) <= set(edges[::4].tolist() + [edges[-1]])


def test_histogram_errors_and_raw_histogram(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="The input has no element."):
            writer.add_histogram("h", np.zeros(0), 0)
        with pytest.raises(ValueError, match="no value lies inside the bins"):
            writer.add_histogram("h", np.array([1e21]), 0)
        with pytest.raises(ValueError, match=r"len\(bucket_limits\) != len\(bucket_counts\)"):
            writer.add_histogram_raw("r", 0, 1, 2, 1, 1, [0.5, 1.0], [2], 0)
        writer.add_histogram_raw("r", min=-1.0, max=3.0, num=6, sum=5.0, sum_squares=15.0,
                                 bucket_limits=[-1.0, 1.0, 3.0], bucket_counts=[0, 4, 2],
                                 global_step=2)
    (event,) = read(tmp_path).Histograms("r")
    h = event.histogram_value
    assert (event.step, h.min, h.max, h.num, h.sum, h.sum_squares) == (2, -1, 3, 6, 5, 15)
    assert (list(h.bucket_limit), list(h.bucket)) == ([-1, 1, 3], [0, 4, 2])


# -- images ----------------------------------------------------------------------

def test_images_in_every_layout(tmp_path):
    rng = np.random.default_rng(2)
    chw = rng.random((3, 6, 9)).astype(np.float32)
    as_uint8 = (chw * 255).astype(np.uint8)  # what a [0, 1] float image becomes
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("chw", tg.tensor(chw), 0)
        writer.add_image("hwc", as_uint8.transpose(1, 2, 0), 0, dataformats="HWC")
        writer.add_image("hw", tg.tensor(chw[0]), 0, dataformats="HW")
        writer.add_image("wh", chw[0].T, 0, dataformats="WH")
        writer.add_image("grey", chw[:1], 0)
        writer.add_image("rgba", np.concatenate([chw, chw[:1]]), 0)
        writer.add_image("clipped", chw * 4 - 2, 0)
        with pytest.raises(AssertionError, match="size of input tensor and input format"):
            writer.add_image("bad", chw, 0, dataformats="HW")
        with pytest.raises(AssertionError, match="the same dimension shorthand twice"):
            writer.add_image("bad", chw, 0, dataformats="CHH")
        with pytest.raises(AssertionError, match="dataformats must be"):
            writer.add_image("bad", chw, 0, dataformats="CHX")
    acc = read(tmp_path)
    expected = {"chw": as_uint8.transpose(1, 2, 0), "hwc": as_uint8.transpose(1, 2, 0),
                "hw": np.stack([as_uint8[0]] * 3, 2), "wh": np.stack([as_uint8[0]] * 3, 2),
                "grey": np.stack([as_uint8[0]] * 3, 2),
                "rgba": np.concatenate([as_uint8, as_uint8[:1]]).transpose(1, 2, 0),
                "clipped": ((chw * 4 - 2).clip(0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)}
    assert sorted(acc.Tags()["images"]) == sorted(expected)
    for tag, pixels in expected.items():
        (event,) = acc.Images(tag)
        assert (event.height, event.width) == (6, 9), tag
        assert np.array_equal(png(event), pixels), tag


def test_add_images_makes_a_grid_eight_a_row(tmp_path):
    batch = np.random.default_rng(3).integers(0, 256, (11, 1, 4, 5)).astype(np.uint8)
    with SummaryWriter(tmp_path) as writer:
        writer.add_images("batch", tg.tensor(batch), 1)
        writer.add_images("nhwc", batch[:3].transpose(0, 2, 3, 1), 1, dataformats="NHWC")
    acc = read(tmp_path)
    (event,) = acc.Images("batch")
    grid = png(event)
    assert grid.shape == (2 * 4, 8 * 5, 3)
    for i in range(16):
        row, col = divmod(i, 8)
        cell = grid[row * 4:(row + 1) * 4, col * 5:(col + 1) * 5]
        want = np.stack([batch[i, 0]] * 3, 2) if i < 11 else np.zeros_like(cell)
        assert np.array_equal(cell, want), i
    (event,) = acc.Images("nhwc")
    assert png(event).shape == (4, 3 * 5, 3)


def test_add_figure_renders_and_closes_it(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    for colour in ("red", "blue"):
        fig = plt.figure(figsize=(2, 1.5), dpi=50)
        fig.patch.set_facecolor(colour)
        figures.append(fig)
    kept = plt.figure(figsize=(1, 1), dpi=40)
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("one", figures[0], 0)
        writer.add_figure("two", figures, 0)
        writer.add_figure("kept", kept, 0, close=False)
    assert plt.get_fignums() == [kept.number]
    plt.close(kept)
    acc = read(tmp_path)
    one = png(acc.Images("one")[0])
    assert one.shape == (75, 100, 3) and (one == [255, 0, 0]).all()
    two = png(acc.Images("two")[0])
    assert two.shape == (75, 200, 3)
    assert (two[:, :100] == [255, 0, 0]).all() and (two[:, 100:] == [0, 0, 255]).all()
    assert png(acc.Images("kept")[0]).shape == (40, 40, 3)


# -- text, hparams, pr curves ----------------------------------------------------

def test_text(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("notes", "lr **0.1**, 한국어", 4)
    acc = read(tmp_path)
    (event,) = acc.Tensors("notes/text_summary")
    assert event.step == 4
    assert tensor_util.make_ndarray(event.tensor_proto).tolist() == [
        "lr **0.1**, 한국어".encode()]
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"


def test_hparams_go_to_a_run_of_their_own(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.plugins.hparams.api_pb2 import DataType

    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1, "batch": 32, "opt": "sgd", "skip": None,
                            "wd": tg.tensor(0.5)},
                           {"hparam/acc": 0.9, "hparam/loss": tg.tensor(0.3)},
                           hparam_domain_discrete={"opt": ["sgd", "adam"]},
                           run_name="trial1", global_step=3)
        with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary"):
            writer.add_hparams([("lr", 0.1)], {})
        with pytest.raises(ValueError, match="value should be one of int, float, str, bool"):
            writer.add_hparams({"layers": [1, 2]}, {})
        with pytest.raises(TypeError, match=r"hparam_domain_discrete\[lr\] should be a list"):
            writer.add_hparams({"lr": 0.1}, {}, hparam_domain_discrete={"lr": ["a"]})
    assert os.listdir(tmp_path / "trial1")
    acc = read(tmp_path / "trial1")
    content = {tag: plugin_data_pb2.HParamsPluginData.FromString(data)
               for tag, data in acc.PluginTagToContent("hparams").items()}
    start = content["_hparams_/session_start_info"].session_start_info
    assert {k: v.WhichOneof("kind") for k, v in start.hparams.items()} == {
        "lr": "number_value", "batch": "number_value", "opt": "string_value",
        "wd": "number_value"}
    assert (start.hparams["lr"].number_value, start.hparams["batch"].number_value,
            start.hparams["opt"].string_value, start.hparams["wd"].number_value) == (
        0.1, 32, "sgd", 0.5)
    experiment = content["_hparams_/experiment"].experiment
    infos = {i.name: i for i in experiment.hparam_infos}
    assert infos["opt"].type == DataType.Value("DATA_TYPE_STRING")
    assert [v.string_value for v in infos["opt"].domain_discrete.values] == ["sgd", "adam"]
    assert infos["lr"].type == DataType.Value("DATA_TYPE_FLOAT64")
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/acc", "hparam/loss"]
    assert "session_end_info" in str(content["_hparams_/session_end_info"])
    assert [(s.step, s.value) for s in acc.Scalars("hparam/acc")] == [(3, pytest.approx(0.9))]
    assert acc.Scalars("hparam/loss")[0].value == pytest.approx(0.3)


def test_pr_curve_counts_every_threshold(tmp_path):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 200)
    predictions = rng.random(200)
    thresholds = 11
    with SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("pr", tg.tensor(labels), tg.tensor(predictions), 5,
                            num_thresholds=thresholds)
        writer.add_pr_curve("capped", labels, predictions, 5, num_thresholds=500)
    acc = read(tmp_path)
    (event,) = acc.Tensors("pr")
    table = tensor_util.make_ndarray(event.tensor_proto)
    assert table.shape == (6, thresholds) and event.step == 5
    # threshold i / (T - 1): a prediction in bucket floor(p (T - 1)) >= i counts as positive
    bucket = np.floor(predictions * (thresholds - 1))
    for i in range(thresholds):
        said_yes = bucket >= i
        tp, fp = np.sum(said_yes & (labels == 1)), np.sum(said_yes & (labels == 0))
        tn, fn = np.sum(~said_yes & (labels == 0)), np.sum(~said_yes & (labels == 1))
        precision = tp / max(tp + fp, 1e-7)
        assert table[:, i] == pytest.approx([tp, fp, tn, fn, precision, tp / (tp + fn)],
                                            rel=1e-6), i
    assert tensor_util.make_ndarray(acc.Tensors("capped")[0].tensor_proto).shape == (6, 127)


# -- embeddings ------------------------------------------------------------------

def test_embedding_writes_the_projector_files(tmp_path):
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    rng = np.random.default_rng(5)
    mat = rng.normal(size=(5, 3)).astype(np.float32)
    images = rng.random((5, 3, 4, 6)).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(tg.tensor(mat), metadata=[f"p{i}" for i in range(5)],
                             label_img=tg.tensor(images), global_step=12, tag="layer/fc")
        writer.add_embedding(mat[:2], metadata=[["a", 1], ["b", 2]],
                             metadata_header=["name", "class"])
        with pytest.raises(AssertionError, match="#labels should equal with #data points"):
            writer.add_embedding(mat, metadata=["x"], tag="bad1")
        with pytest.raises(AssertionError, match="#images should equal with #data points"):
            writer.add_embedding(mat, label_img=images[:2], tag="bad2")
    folder = tmp_path / "00012" / "layer%2ffc"
    rows = (folder / "tensors.tsv").read_text().splitlines()
    assert np.array_equal(np.array([[float(v) for v in r.split("\t")] for r in rows],
                                   dtype=np.float32), mat)
    assert (folder / "metadata.tsv").read_text() == "p0\np1\np2\np3\np4\n"
    assert (tmp_path / "00000" / "default" / "metadata.tsv").read_text() == (
        "name\tclass\na\t1\nb\t2\n")
    # 5 images in a 3-wide grid, on a square canvas as wide as the grid
    sprite = np.asarray(Image.open(folder / "sprite.png"))
    assert sprite.shape == (18, 18, 3)
    assert np.array_equal(sprite[4:8, 6:12],
                          (images[4] * 255).astype(np.uint8).transpose(1, 2, 0))
    assert not sprite[8:].any()

    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    first, second = config.embeddings
    assert (first.tensor_name, first.tensor_path, first.metadata_path) == (
        "layer/fc:00012", "00012/layer%2ffc/tensors.tsv", "00012/layer%2ffc/metadata.tsv")
    assert first.sprite.image_path == "00012/layer%2ffc/sprite.png"
    assert list(first.sprite.single_image_dim) == [6, 4]
    assert (second.tensor_name, second.sprite.image_path) == ("default:00000", "")


# -- the writer itself -----------------------------------------------------------

def test_default_log_dir_purge_step_and_reopening(tmp_path, monkeypatch):
    from tensorboard.compat.proto.event_pb2 import SessionLog

    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1", purge_step=40, flush_secs=10_000)
    logdir = writer.get_logdir()
    assert os.path.dirname(logdir) == "runs"
    assert logdir.endswith("_" + socket.gethostname() + "_lr0.1")
    writer.add_scalar("x", 1.0, 40)
    writer.flush()  # visible before close, though the background flush is hours away
    assert [s.value for s in read(logdir).Scalars("x")] == [1.0]
    written = events(logdir)
    assert [e.WhichOneof("what") for e in written] == [
        "file_version", "file_version", "session_log", "summary"]
    assert written[2].session_log.status == SessionLog.START and written[2].step == 40
    writer.close()
    writer.close()  # twice: nothing happens
    writer.add_scalar("x", 2.0, 41)  # after close: a new event file in the same folder
    writer.close()
    files = [f for f in os.listdir(logdir) if f.startswith("events.out")]
    assert len(files) == 2
    assert [s.value for s in read(logdir).Scalars("x")] == [1.0, 2.0]


def test_add_graph_says_why_it_is_missing(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(NotImplementedError, match="no tracer"):
            writer.add_graph(tg.nn.Linear(2, 2), tg.zeros(1, 2))


def test_import_needs_no_tensorboard_and_the_writer_says_how_to_get_it(tmp_path):
    # a fresh interpreter in which `import tensorboard` fails
    code = (
        "import sys\n"
        "import tinygrad_kr.utils.tensorboard as tb\n"
        "assert 'tensorboard' not in sys.modules and 'google.protobuf' not in sys.modules\n"
        "sys.modules['tensorboard'] = None\n"
        "try:\n"
        f"    tb.SummaryWriter({str(tmp_path / 'x')!r})\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install "tinygrad_kr[tensorboard]"' in result.stdout
    assert not (tmp_path / "x").exists()


@pytest.mark.cuda
def test_gpu_tensors_go_through_the_host(tmp_path):
    if not tg.cuda.is_available():
        pytest.skip("needs CuPy and a CUDA GPU")
    x = tg.arange(12.0).reshape(3, 2, 2).to("cuda")
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("s", x.sum(), 0)
        writer.add_histogram("h", x, 0)
        writer.add_image("i", x / 11, 0)
    acc = read(tmp_path)
    assert acc.Scalars("s")[0].value == 66.0
    check_buckets(acc.Histograms("h")[0].histogram_value, np.arange(12.0))
    assert png(acc.Images("i")[0]).shape == (2, 2, 3)


# -- the same files as PyTorch's writer ------------------------------------------

def log_everything(writer, T):
    """One of each call, with inputs made by ``T`` (a numpy array -> the library's tensor)."""
    rng = np.random.default_rng(6)
    writer.add_scalar("s", 1.5, 0)
    writer.add_scalar("s", T(np.float32(2.25)), 1, walltime=10.0)
    writer.add_scalar("s_new", T(np.array([3.0])), 2, new_style=True)
    writer.add_scalar("s_new64", 0.1, 2, new_style=True, double_precision=True)
    writer.add_scalars("run/a", {"x": 1.0, "y": T(np.array(2.0))}, 0)
    values = rng.normal(size=(30, 20))
    writer.add_histogram("h_tf", T(values), 0)
    writer.add_histogram("h_auto", T(values.astype(np.float32)), 1, bins="auto")
    writer.add_histogram("h_int", values, 2, bins=40, max_bins=6)
    writer.add_histogram_raw("h_raw", -1.0, 2.0, 3, 1.0, 5.0, [0.0, 2.0], [1, 2], 3)
    image = rng.random((3, 7, 5)).astype(np.float32)
    writer.add_image("i_chw", T(image), 0)
    writer.add_image("i_hwc", (image * 255).astype(np.uint8).transpose(1, 2, 0), 0,
                     dataformats="HWC")
    writer.add_image("i_hw", T(image[0]), 0, dataformats="HW")
    writer.add_image("i_rgba", T(np.concatenate([image, image[:1]]) * 1.5 - 0.2), 0)
    writer.add_images("i_batch", T(rng.random((10, 1, 3, 4)).astype(np.float32)), 0)
    writer.add_text("t", "*markdown* text", 5)
    writer.add_pr_curve("pr", T(rng.integers(0, 2, 64)), T(rng.random(64)), 1)
    writer.add_pr_curve("pr_w", T(rng.integers(0, 2, 64)), T(rng.random(64)), 1,
                        num_thresholds=300, weights=rng.random(64))
    writer.add_pr_curve_raw("pr_raw", *[T(rng.random(4)) for _ in range(6)], 2,
                            num_thresholds=4)
    writer.add_custom_scalars({"c": {"m": ["Multiline", ["s", "s_new"]],
                                     "g": ["Margin", ["s", "s_new", "s_new64"]]}})
    writer.add_hparams({"lr": 0.01, "batch": 64, "opt": "adam", "flag": True, "none": None},
                       {"hp/acc": 0.75}, hparam_domain_discrete={"batch": [32, 64]},
                       run_name="hp", global_step=4)
    writer.add_embedding(T(rng.random((7, 4)).astype(np.float32)), global_step=3,
                         metadata=[f"m{i}" for i in range(7)],
                         label_img=T(rng.random((7, 3, 5, 5)).astype(np.float32)), tag="a/b")
    writer.add_embedding(T(rng.random((2, 4))), metadata=[["x", 0], ["y", 1]],
                         metadata_header=["name", "label"])


def written_files(root):
    """{(folder, file): contents}, an event file as its Events with wall times zeroed
    (its name holds the time, host and process id: named 'events')."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            key = os.path.relpath(folder, root)
            if name.startswith("events.out.tfevents"):
                loaded = load_events(path)
                for e in loaded:
                    e.wall_time = 0
                found[key, "events"] = loaded
            else:
                with open(path, "rb") as f:
                    found[key, name] = f.read()
    return found


def test_same_files_and_events_as_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

    with SummaryWriter(tmp_path / "ours", purge_step=2) as writer:
        log_everything(writer, tg.tensor)
    with TorchSummaryWriter(tmp_path / "torch", purge_step=2) as writer:
        log_everything(writer, lambda a: torch.tensor(a))
    ours, theirs = written_files(tmp_path / "ours"), written_files(tmp_path / "torch")
    assert sorted(ours) == sorted(theirs)
    assert len(ours) == 10  # 4 runs of events, 6 projector files
    for key in ours:
        if key[1] != "events":
            assert ours[key] == theirs[key], key
            continue
        assert len(ours[key]) == len(theirs[key]), key
        for mine, torchs in zip(ours[key], theirs[key]):
            assert mine == torchs, (key, mine, torchs)


def test_same_errors_as_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

    calls = [
        lambda w, T: w.add_scalar("x", T(np.ones(3)), 0),
        lambda w, T: w.add_histogram("h", T(np.zeros(0)), 0),
        lambda w, T: w.add_histogram_raw("r", 0, 1, 2, 1, 1, [0.5, 1.0], [2]),
        lambda w, T: w.add_hparams({"a": 1}, [1]),
        lambda w, T: w.add_hparams({"a": [1]}, {}),
        lambda w, T: w.add_hparams({"a": 1}, {}, hparam_domain_discrete={"b": [1]}),
        lambda w, T: w.add_image("i", T(np.ones((3, 2, 2))), 0, dataformats="HWCC"),
        lambda w, T: w.add_image("i", T(np.ones((2, 2))), 0, dataformats="CHW"),
        lambda w, T: w.add_images("i", T(np.ones((2, 4, 3, 3))), 0),
        lambda w, T: w.add_embedding(T(np.ones((3, 2))), metadata=["a"]),
        lambda w, T: w.add_embedding(T(np.ones(3)), tag="flat"),
        lambda w, T: w.add_custom_scalars_marginchart(["a"]),
    ]
    with SummaryWriter(tmp_path / "ours") as ours, \
            TorchSummaryWriter(tmp_path / "torch") as theirs:
        for i, call in enumerate(calls):
            with pytest.raises(Exception) as mine:
                call(ours, tg.tensor)
            with pytest.raises(Exception) as torchs:
                call(theirs, lambda a: torch.tensor(a))
            assert type(mine.value) is type(torchs.value), i
            # (PyTorch 2.11 misspells "shorthand")
            assert " ".join(str(mine.value).split()) == \
                " ".join(torch_message(torchs.value, torch).split()), i


# -- the course experiments' --tensorboard ---------------------------------------

def test_experiments_write_their_curves_to_tensorboard(tmp_path, monkeypatch):
    pytest.importorskip("tqdm")
    pytest.importorskip("zarr")
    from tinygrad_kr.experiments import common
    from tinygrad_kr.experiments.__main__ import main

    try:
        common.dataset(types.SimpleNamespace(data_dir=None, fashion_dir=None, seed=0), False)
    except common.MissingDependency as e:
        unavailable(f"MNIST not available: {e}")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert main(["slp-schedules", "--quick", "--no-plots", "--out", str(tmp_path / "out"),
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    curves = json.loads((tmp_path / "out" / "results.json").read_text())["curves"]
    acc = read(tmp_path / "tb" / "slp-schedules")
    assert sorted(acc.Tags()["scalars"]) == sorted(
        f"{run}/{name}" for run, history in curves.items() for name, values in history.items()
        if isinstance(values, list))
    for run, history in curves.items():
        for name in ("lr", "train_loss", "test_acc"):
            got = acc.Scalars(f"{run}/{name}")
            assert [s.step for s in got] == list(range(len(history[name])))
            assert [s.value for s in got] == pytest.approx(history[name], rel=1e-6)

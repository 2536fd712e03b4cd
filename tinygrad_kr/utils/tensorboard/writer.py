"""SummaryWriter: torch.utils.tensorboard's writer for tinygrad_kr runs.

    from tinygrad_kr.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/exp1") as writer:
        writer.add_scalar("loss/train", loss.item(), epoch)

The same methods, arguments, directories and event files as PyTorch's
(``tensorboard --logdir runs`` shows both alike).  Values may be tinygrad_kr
Tensors (a GPU one is copied to the host), NumPy arrays or Python numbers.
The messages are built in ``summary.py``; the event files (TFRecord framing,
the background flush every ``flush_secs``) are ``tensorboard``'s own
EventFileWriter, as in PyTorch.  ``tensorboard`` is imported when the first
writer is made, so this module imports without it.

``add_graph`` is not available: PyTorch draws the graph from a
``torch.jit.trace`` of the model, and tinygrad_kr has no tracer.
"""
import io
import math
import os
import time

import numpy as np

__all__ = ["FileWriter", "SummaryWriter"]


def _summary():
    """``summary.py``, imported on first use: it imports ``tensorboard`` (and says how
    to install it when missing)."""
    from . import summary
    return summary


class FileWriter:
    """One event file in ``log_dir``: wraps each ``Summary`` in an ``Event`` with its
    step and wall time and hands it to tensorboard's EventFileWriter, which writes in
    the background (at most ``max_queue`` pending events, flushed every ``flush_secs``)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        _summary()  # the clear ImportError first
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs,
                                            filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)  # a NumPy or Tensor step: protobuf wants an int
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        from tensorboard.compat.proto.event_pb2 import Event

        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        """After close(): go on writing in the same directory, into a new event file."""
        self.event_writer.reopen()


class SummaryWriter:
    """Writes summaries to event files in ``log_dir`` for TensorBoard, as
    ``torch.utils.tensorboard.SummaryWriter``.

    Args:
        log_dir: the folder (default: ``runs/CURRENT_DATETIME_HOSTNAME`` + ``comment``).
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: a run resumed at step T after a crash passes T: TensorBoard then
            hides the events of step >= T that the crashed run wrote (same ``log_dir``).
        max_queue: events held in memory before an ``add_*`` call writes them.
        flush_secs: seconds between background flushes.
        filename_suffix: appended to the event file names.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        _summary()  # without tensorboard: the ImportError that says how to install it, now
        if not log_dir:
            import socket
            from datetime import datetime
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        # made again by the next add_* after close()
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        self.default_bins = _summary().tensorflow_bins()

    def _get_file_writer(self):
        """The writer of ``log_dir`` (a new event file after close())."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                from tensorboard.compat.proto.event_pb2 import Event, SessionLog
                # TensorBoard drops the earlier events of step >= purge_step when it
                # meets a START at that step
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def _write(self, summary, global_step=None, walltime=None):
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def get_logdir(self):
        """The folder the event files are written to."""
        return self.log_dir

    # -- scalars ------------------------------------------------------------------

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One value of the curve ``tag``. ``new_style`` stores it as a tensor (faster to
        load in TensorBoard), float32 unless ``double_precision``."""
        self._write(_summary().scalar(tag, scalar_value, new_style=new_style,
                                      double_precision=double_precision),
                    global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart: each ``tag`` of the dict gets its own run
        (folder ``log_dir/MAINTAG_TAG``, one event file each, as in PyTorch) holding
        the values under ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        root = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            run_dir = root + "/" + main_tag.replace("/", "_") + "_" + tag
            writer = self.all_writers.get(run_dir)
            if writer is None:
                writer = self.all_writers[run_dir] = FileWriter(
                    run_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            writer.add_summary(_summary().scalar(main_tag, value), global_step, walltime)

    def add_custom_scalars(self, layout):
        """Charts that gather scalar tags: ``{category: {title: ["Multiline", tags]}}``
        or ``["Margin", [value, lower, upper]]``. Call it once per writer."""
        self._write(_summary().custom_scalars(layout))

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        if len(tags) != 3:
            raise AssertionError(f"Expected 3 tags, got {len(tags)}.")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None):
        """Hyperparameters and the metrics they gave, for the HPARAMS tab: written to a
        run ``log_dir/run_name`` (default: the current time), the metrics also as
        scalars there."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        summaries = _summary().hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        run_name = run_name or str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as run:
            for summary in summaries:
                run.file_writer.add_summary(summary, global_step)
            for tag, value in metric_dict.items():
                run.add_scalar(tag, value, global_step)

    # -- distributions ------------------------------------------------------------

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """A histogram of ``values`` (any shape). ``bins``: "tensorflow" (TensorFlow's
        exponential buckets), or what ``np.histogram`` takes ("auto", "fd", a count,
        edges); ``max_bins`` merges neighbouring buckets down to about that many."""
        self._write(_summary().histogram(tag, values, bins, max_bins=max_bins),
                    global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        """A histogram already counted: ``bucket_limits`` are the buckets' right edges."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._write(_summary().histogram_raw(tag, min, max, num, sum, sum_squares,
                                             bucket_limits, bucket_counts),
                    global_step, walltime)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127,
                     weights=None, walltime=None):
        """A precision-recall curve of 0/1 ``labels`` and ``predictions`` in [0, 1]
        (at most 127 thresholds)."""
        s = _summary()
        self._write(s.pr_curve(tag, s.to_numpy(labels), s.to_numpy(predictions),
                               num_thresholds, weights), global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts,
                         true_negative_counts, false_negative_counts, precision, recall,
                         global_step=None, num_thresholds=127, weights=None, walltime=None):
        """A precision-recall curve given by its counts at each threshold."""
        self._write(_summary().pr_curve_raw(tag, true_positive_counts, false_positive_counts,
                                            true_negative_counts, false_negative_counts,
                                            precision, recall, num_thresholds),
                    global_step, walltime)

    # -- images and text ----------------------------------------------------------

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """An image: (3, H, W) by default, or as ``dataformats`` says (CHW, HWC, HW, ...;
        1, 3 or 4 channels). Floats are taken as [0, 1], uint8 as [0, 255]."""
        self._write(_summary().image(tag, img_tensor, dataformats=dataformats),
                    global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images (NCHW by default; 1 or 3 channels) shown as one grid,
        8 images a row."""
        self._write(_summary().image(tag, img_tensor, dataformats=dataformats),
                    global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, shown as a grid) as an image;
        ``close`` closes it in pyplot."""
        images = _summary().figure_to_image(figure, close)
        self.add_image(tag, images, global_step, walltime,
                       dataformats="NCHW" if isinstance(figure, list) else "CHW")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A string (markdown) under ``tag/text_summary``."""
        self._write(_summary().text(tag, text_string), global_step, walltime)

    # -- graph and embeddings -----------------------------------------------------

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        raise NotImplementedError(
            "SummaryWriter.add_graph is not available in tinygrad_kr: PyTorch draws the "
            "graph from a torch.jit.trace of the model, and tinygrad_kr has no tracer. "
            "Log the model's structure as text instead: writer.add_text('model', str(model))")

    @staticmethod
    def _encode(rawstr):
        # a tag as one folder name: '%', '/' and '\' percent-encoded, as PyTorch
        return rawstr.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag="default", metadata_header=None):
        """Points for the PROJECTOR tab: ``mat`` (N, D), one label per point in
        ``metadata`` (a row of values per point with ``metadata_header``), and
        ``label_img`` (N, C, H, W) shown as each point's sprite.

        Writes ``log_dir/STEP/TAG/`` tensors.tsv, metadata.tsv and sprite.png, and
        adds the embedding to ``log_dir/projector_config.pbtxt``."""
        from google.protobuf import text_format
        from tensorboard.plugins.projector.projector_config_pb2 import (EmbeddingInfo,
                                                                        ProjectorConfig)
        s = _summary()
        mat = s.to_numpy(mat)
        global_step = 0 if global_step is None else global_step
        subdir = f"{str(global_step).zfill(5)}/{self._encode(tag)}"
        logdir = self._get_file_writer().get_logdir()
        save_path = os.path.join(logdir, subdir)
        if os.path.exists(save_path):
            if not os.path.isdir(save_path):
                raise NotADirectoryError(f"Path: `{save_path}` exists, but is a file. "
                                         f"Cannot proceed.")
            print("warning: Embedding dir exists, did you set global_step for add_embedding()?")
        else:
            os.makedirs(save_path)
        info = EmbeddingInfo(tensor_name=f"{tag}:{str(global_step).zfill(5)}",
                             tensor_path=os.path.join(subdir, "tensors.tsv"))
        if metadata is not None:
            if mat.shape[0] != len(metadata):
                raise AssertionError("#labels should equal with #data points")
            _write_metadata_tsv(metadata, save_path, metadata_header)
            info.metadata_path = os.path.join(subdir, "metadata.tsv")
        if label_img is not None:
            label_img = s.to_numpy(label_img)
            if mat.shape[0] != label_img.shape[0]:
                raise AssertionError("#images should equal with #data points")
            _write_sprite(label_img, save_path)
            info.sprite.image_path = os.path.join(subdir, "sprite.png")
            info.sprite.single_image_dim.extend([label_img.shape[3], label_img.shape[2]])
        if mat.ndim != 2:
            raise AssertionError("mat should be 2D, where mat.size(0) is the number of "
                                 "data points")
        with open(os.path.join(save_path, "tensors.tsv"), "wb") as f:
            for row in mat.tolist():  # Python floats: repr gives every digit back
                f.write(("\t".join(str(v) for v in row) + "\n").encode())
        if not hasattr(self, "_projector_config"):
            self._projector_config = ProjectorConfig()
        self._projector_config.embeddings.extend([info])
        with open(os.path.join(logdir, "projector_config.pbtxt"), "wb") as f:
            f.write(text_format.MessageToString(self._projector_config).encode())

    # -- files --------------------------------------------------------------------

    def flush(self):
        """Write every pending event to disk."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        """Flush and close the event files (a later add_* starts a new one)."""
        if self.all_writers is None:
            return  # closed already
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _write_metadata_tsv(metadata, save_path, metadata_header=None):
    """One label a line, or with a header a tab-separated row a line."""
    if not metadata_header:
        lines = [str(x) for x in metadata]
    else:
        if len(metadata_header) != len(metadata[0]):
            raise AssertionError("len of header must be equal to the number of columns in "
                                 "metadata")
        lines = ["\t".join(str(e) for e in row) for row in [metadata_header] + list(metadata)]
    with open(os.path.join(save_path, "metadata.tsv"), "wb") as f:
        f.write(("\n".join(lines) + "\n").encode())


def _write_sprite(label_img, save_path):
    """The images (N, 1 or 3, H, W) in a square grid of ceil(sqrt(N)) columns, on a
    black square canvas as wide as the grid: the projector cuts the sprite into
    cells of single_image_dim."""
    from PIL import Image

    ncols = math.ceil(label_img.shape[0] ** 0.5)
    grid = _summary().make_grid(label_img, ncols=ncols).transpose(1, 2, 0)  # HWC
    # uint8 images are [0, 255] already (PyTorch multiplies them by 255 too, which
    # turns every non-black pixel white)
    scale = 1 if grid.dtype == np.uint8 else 255
    square = np.zeros((grid.shape[1], grid.shape[1], 3))
    square[:grid.shape[0]] = grid
    pixels = np.uint8((square * scale).clip(0, 255))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    with open(os.path.join(save_path, "sprite.png"), "wb") as f:
        f.write(buffer.getvalue())

"""torch.autograd.profiler: the older profiler API, on tinygrad_kr.profiler.

    with autograd.profiler.profile(record_shapes=True) as prof:
        model(x).sum().backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total"))
"""
from .. import profiler as _profiler
from ..profiler import EventList, FunctionEvent, FunctionEventAvg, record_function

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class profile:
    """Record between ``__enter__`` and ``__exit__`` (``enabled=False``: do
    nothing).  ``use_cuda`` / ``use_device='cuda'`` waits for the device at
    the end of each op, as ProfilerActivity.CUDA does."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        self.enabled = enabled
        activities = [_profiler.ProfilerActivity.CPU]
        if use_cuda or use_device == "cuda":
            activities.append(_profiler.ProfilerActivity.CUDA)
        self._profile = _profiler.profile(activities=activities, record_shapes=record_shapes,
                                          profile_memory=profile_memory, with_stack=with_stack,
                                          acc_events=acc_events)

    def __enter__(self):
        if self.enabled:
            self._profile.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._profile.stop()
        return False

    @property
    def function_events(self):
        return self._profile.events()

    def events(self):
        return self._profile.events()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return self._profile.key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def total_average(self):
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        return self.function_events.self_cpu_time_total

    def export_chrome_trace(self, path):
        self._profile.export_chrome_trace(path)

    def __str__(self):
        return self.table()

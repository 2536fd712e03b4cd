"""The benchmark suite: ``python -m bench`` (see docs/BENCHMARKS.md).

tinygrad_kr against PyTorch and NumPy, timed in one process with interleaved
repetitions.  Nothing is imported here: ``python -m bench`` must set the
thread environment variables before NumPy or PyTorch load.
"""

"""Compiled kernels (built from csrc/*.pyx by setup.py).

Nothing here is imported directly by the engine: tinygrad_kr.kernels picks
each kernel from here when it was compiled, or from its NumPy twin.
"""

"""What a test needs from its environment, and what happens without it.

On a developer's machine a missing piece (the compiled kernels, the offline
MNIST of the `experiments` extra) skips the test that needs it.  CI promises
those pieces (.ci/run sets TKR_TEST_STRICT=1): there a skip would hide a broken
build or install, so it fails instead.  GPU tests are not routed here: CI has
no GPU.
"""
import os

import pytest

STRICT = os.environ.get("TKR_TEST_STRICT") == "1"


def unavailable(reason):
    """Skip (or, under TKR_TEST_STRICT=1, fail) the calling test: ``reason``
    says what is missing."""
    if STRICT:
        pytest.fail(f"{reason} (TKR_TEST_STRICT=1: this environment promises it)")
    pytest.skip(reason)

import os
import shutil
import tempfile

import matplotlib
import pytest
import torch

# In this process only: an MPLBACKEND in the environment would reach the notebook kernels that nbval
# starts in the same pytest run (make test-code), and their figures would not be displayed.
matplotlib.use("Agg")

COUNT_CACHE = "MIXUPBOOK_COUNT_CACHE"


def pytest_configure(config):
    """One folder of ATen operation counts (mixupbook.cost) for the whole session: every dry run's
    kernel, in every xdist worker, reuses a configuration's count instead of tracing it again."""
    if hasattr(config, "workerinput"):
        os.environ[COUNT_CACHE] = config.workerinput[COUNT_CACHE]
    elif COUNT_CACHE not in os.environ:
        config._count_cache = tempfile.mkdtemp(prefix="mixupbook-counts-")
        os.environ[COUNT_CACHE] = config._count_cache


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):    # xdist: the controller hands its folder to each worker
    node.workerinput[COUNT_CACHE] = os.environ[COUNT_CACHE]


def pytest_unconfigure(config):
    if getattr(config, "_count_cache", None):
        shutil.rmtree(config._count_cache, ignore_errors=True)
        os.environ.pop(COUNT_CACHE, None)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def mlp_batch(gen):
    """A small MLP (5 -> 8 -> 3) and a batch of 16 random examples for it."""
    from mixupbook.models import build_model

    torch.manual_seed(0)
    x = torch.randn(16, 5, generator=gen)
    y = torch.randint(0, 3, (16,), generator=gen)
    return build_model("mlp", 3, (5,), hidden=(8,)), x, y


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: tiny nets only lose to thread overhead (and runs are reproducible)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

import matplotlib
import pytest
import torch

# In this process only: an MPLBACKEND in the environment would reach the notebook kernels that nbval
# starts in the same pytest run (make test-code), and their figures would not be displayed.
matplotlib.use("Agg")


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

"""Datasets: offline sets load; download-only sets are read from tiny files in their real on-disk format."""
import gzip
import pickle

import numpy as np
import pytest
import torch

from mixupbook import data as D


@pytest.mark.parametrize("name", D.list_datasets(offline=True))
def test_offline_datasets_load_and_are_seeded(name):
    kwargs = {"num_samples": 600} if name == "mnist1d" else {}
    a = D.load_dataset(name, seed=1, **kwargs)
    b = D.load_dataset(name, seed=1, **kwargs)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.long
    assert int(a.y_train.max()) < a.num_classes and len(a.x_test) > 0
    assert a.input_shape == tuple(a.x_test.shape[1:])


def test_alternating_line_is_the_counterexample():
    d = D.load_dataset("alternating_line")
    assert d.x_train.flatten().tolist() == [0.0, 1.0, 2.0] and d.y_train.tolist() == [0, 1, 0]


def test_linear_gaussians_rank_and_labels():
    d = D.load_dataset("linear_gaussians", d=8, rank=3, n=300)
    assert np.linalg.matrix_rank(d.x_train.numpy(), tol=1e-5) == 3
    w = torch.tensor(d.meta["w"], dtype=torch.float32)
    assert torch.equal((d.x_train @ w > 0).long(), d.y_train)


def trust_md5(monkeypatch, root, folder):
    """Tiny stand-in CIFAR files are not torchvision's: take their own MD5 sums as the expected ones."""
    for f in (root / folder).iterdir():
        monkeypatch.setitem(D.CIFAR_MD5, f"{folder}/{f.name}", D.md5(f))


def _write_cifar10(root, n=4, monkeypatch=None):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / f, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"labels": list(rng.integers(0, 10, n))}, fh)
    if monkeypatch is not None:
        trust_md5(monkeypatch, root, "cifar-10-batches-py")


def test_cifar10_reads_the_python_pickle_format(tmp_path, monkeypatch):
    _write_cifar10(tmp_path, monkeypatch=monkeypatch)
    d = D.load_dataset("cifar10", tmp_path)
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_train.dtype == torch.uint8
    assert d.x_test.shape == (4, 3, 32, 32) and d.num_classes == 10
    x = d.normalize(d.x_train[:2])
    assert x.dtype == torch.float32 and abs(float(x.mean())) < 3


def test_cifar100_reads_fine_labels(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for f, n in (("train", 5), ("test", 3)):
        with open(folder / f, "wb") as fh:
            pickle.dump({b"data": np.zeros((n, 3072), np.uint8), b"fine_labels": [99] * n,
                         b"coarse_labels": [0] * n}, fh)
    trust_md5(monkeypatch, tmp_path, "cifar-100-python")
    d = D.load_dataset("cifar100", tmp_path)
    assert d.y_train.tolist() == [99] * 5 and d.num_classes == 100


def _idx(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.tobytes()


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST"), ("kmnist", "KMNIST")])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_family_reads_idx_files(tmp_path, name, folder, gz):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    files = {"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": [1, 2, 3],
             "t10k-images-idx3-ubyte": images[:2], "t10k-labels-idx1-ubyte": [4, 5]}
    for stem, arr in files.items():
        if gz:
            with gzip.open(raw / f"{stem}.gz", "wb") as fh:
                fh.write(_idx(arr))
        else:
            (raw / stem).write_bytes(_idx(arr))
    d = D.load_dataset(name, tmp_path)
    assert d.x_train.shape == (3, 1, 28, 28) and d.y_train.tolist() == [1, 2, 3]
    assert torch.equal(d.x_train[1, 0].long(), torch.as_tensor(images[1]).long())
    assert d.y_test.tolist() == [4, 5]


def test_svhn_reads_mat_files_and_maps_label_10_to_0(tmp_path):
    from scipy.io import savemat

    for split, n in (("train", 4), ("test", 2)):
        x = np.random.default_rng(0).integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [10]][:n])})
    d = D.load_dataset("svhn", tmp_path)
    assert d.x_train.shape == (4, 3, 32, 32)
    assert d.y_train.tolist() == [0, 1, 2, 0]


def test_stl10_reads_binary_files(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    for split, n in (("train", 2), ("test", 1)):
        np.zeros((n, 3, 96, 96), np.uint8).tofile(folder / f"{split}_X.bin")
        np.array([1, 10][:n], np.uint8).tofile(folder / f"{split}_y.bin")
    d = D.load_dataset("stl10", tmp_path)
    assert d.x_train.shape == (2, 3, 96, 96) and d.y_train.tolist() == [0, 9]


@pytest.mark.parametrize("name", [n for n in D.list_datasets(offline=False)])
def test_missing_dataset_says_where_and_how(tmp_path, name):
    with pytest.raises(FileNotFoundError) as e:
        D.load_dataset(name, tmp_path / "nowhere")
    msg = str(e.value)
    how = "cannot fetch" if name in D.FOLDER_SETS else f"python -m mixupbook.data download {name} --root"
    assert "nowhere" in msg and how in msg


def test_unknown_dataset_lists_valid_ones():
    with pytest.raises(ValueError, match="valid datasets"):
        D.load_dataset("imagenet22k")


def test_subset_is_seeded_and_sized():
    d = D.load_dataset("digits")
    a, b = d.subset(100, 50, seed=3), d.subset(100, 50, seed=3)
    assert len(a.y_train) == 100 and len(a.y_test) == 50 and torch.equal(a.x_train, b.x_train)

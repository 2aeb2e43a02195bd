"""The dataset layer: IDX reader and its errors, sources, embedded splits."""

import gzip
import logging
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbasics.data import datasets
from jaxbasics.data.datasets import CorruptDataset, DatasetNotFound, load, read_idx


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    array = np.asarray(array, np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    return (magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            + array.tobytes())


def write_split(directory, split, n=12, seed=0, gz=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for stem, arr in zip(datasets.FILES[split], (images, labels)):
        data = idx_bytes(arr)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)
    return images, labels


@pytest.fixture(autouse=True)
def no_outside_data(monkeypatch, tmp_path):
    """No real cache, no $JAXBASICS_DATA, and no network in these tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("JAXBASICS_DATA", raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_ROOT", str(tmp_path / "debian"))


def test_idx_round_trip_gz_and_plain(tmp_path):
    images, labels = write_split(tmp_path, "train")
    ds = load("mnist", "train", "idx", data_dir=tmp_path)
    assert ds.images.shape == (12, 28, 28, 1) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int32 and (ds.labels == labels).all()
    np.testing.assert_allclose(ds.images[..., 0], (images / 255 - 0.1307) / 0.3081, atol=1e-5)
    assert "idx" in ds.source and str(tmp_path) in ds.source
    plain = tmp_path / "plain"
    plain.mkdir()
    write_split(plain, "test", n=5, gz=False)
    assert len(load("fashion_mnist", "test", "idx", data_dir=plain)) == 5


def test_idx_found_through_env(tmp_path, monkeypatch):
    (tmp_path / "fashion_mnist").mkdir()
    write_split(tmp_path / "fashion_mnist", "test", n=3)
    monkeypatch.setenv("JAXBASICS_DATA", str(tmp_path))
    assert len(load("fashion_mnist", "test", "idx")) == 3


def test_idx_errors(tmp_path):
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28)), magic=0x0D03)))
    with pytest.raises(CorruptDataset, match="magic"):
        read_idx(f)
    f.write_bytes(gzip.compress(idx_bytes(np.zeros((3,))) ))
    with pytest.raises(CorruptDataset, match="magic"):
        read_idx(f, datasets.IMAGE_MAGIC)
    f.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28)))[:-10]))
    with pytest.raises(CorruptDataset, match="truncated"):
        read_idx(f)
    f.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28))) + b"xx"))
    with pytest.raises(CorruptDataset, match="longer"):
        read_idx(f)
    f.write_bytes(b"not gzip at all")
    with pytest.raises(CorruptDataset, match="cannot read"):
        read_idx(f)
    write_split(tmp_path, "train", n=4)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5))))
    with pytest.raises(CorruptDataset, match="4 images .* 5 labels"):
        load("mnist", "train", "idx", data_dir=tmp_path)


def test_missing_files_name_what_and_where(tmp_path):
    with pytest.raises(DatasetNotFound, match="t10k-images-idx3-ubyte.gz.*--data-dir"):
        load("mnist", "test", "idx", data_dir=tmp_path)
    with pytest.raises(DatasetNotFound, match="embedded source holds MNIST"):
        load("fashion_mnist", "test", "embedded")
    with pytest.raises(ValueError, match="source must be one of"):
        load("mnist", "test", "internet")


def test_embedded_splits_are_balanced():
    train, test = load("mnist", "train"), load("mnist", "test")
    assert (len(train), len(test)) == (4000, 1000)
    assert (np.bincount(train.labels) == 400).all() and (np.bincount(test.labels) == 100).all()
    assert train.images.shape == (4000, 28, 28, 1)
    assert abs(train.images.mean()) < 0.2 and 0.8 < train.images.std() < 1.2


def test_auto_falls_back_and_says_so(monkeypatch):
    def offline(*a, **k):
        raise DatasetNotFound("offline")
    monkeypatch.setattr(datasets, "download", offline)
    monkeypatch.setattr(datasets, "_load_tfds", offline)
    ds = load("fashion_mnist", "test", "auto")
    assert len(ds) == 1000 and "NOT fashion_mnist" in ds.source
    assert load("mnist", "test", "auto").source.startswith("embedded")


def test_auto_prefers_idx(tmp_path):
    write_split(tmp_path, "test", n=7)
    assert len(load("mnist", "test", "auto", data_dir=tmp_path)) == 7


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path.lstrip("/"))
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_download_from_local_stub_verifies_checksums(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_split(src, "train", n=6)
    write_split(src, "test", n=4)
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    _Files.files = files
    server = http.server.HTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        good = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
        out = datasets.download("mnist", tmp_path / "dl", mirrors=(url,), checksums=good,
                                timeout=2)
        assert len(datasets.read_idx_split(out, "test")[0]) == 4
        bad = dict(good, **{"t10k-labels-idx1-ubyte.gz": "0" * 64})
        (out / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DatasetNotFound, match="checksum mismatch"):
            datasets.download("mnist", out, mirrors=(url,), checksums=bad, timeout=2)
        assert not (out / "t10k-labels-idx1-ubyte.gz").exists()
        with pytest.raises(DatasetNotFound, match="could not download"):
            datasets.download("mnist", tmp_path / "x", mirrors=(url + "nothing/",),
                              checksums={}, timeout=2)
    finally:
        server.shutdown()


def test_tfds_mock_without_tensorflow(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = load("mnist", "test", "tfds", data_dir=tmp_path)
    assert ds.images.shape == (6, 28, 28, 1) and ds.labels.shape == (6,)
    assert ds.source.startswith("mnist tfds")


def test_content_checksum(tmp_path):
    f = tmp_path / "t.gz"
    f.write_bytes(gzip.compress(idx_bytes(np.zeros((2,)))))
    good = hashlib.sha256(idx_bytes(np.zeros((2,)))).hexdigest()
    assert len(read_idx(f, datasets.LABEL_MAGIC, good)) == 2
    with pytest.raises(CorruptDataset, match="sha256"):
        read_idx(f, datasets.LABEL_MAGIC, "0" * 64)


def test_debian_fashion_mnist_if_installed():
    if not Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    ds = load("fashion_mnist", "test", "idx", data_dir="/usr/share/datasets/fashion-mnist")
    assert len(ds) == 10_000 and (np.bincount(ds.labels) == 1000).all()


def test_auto_does_not_print_tfds_warnings(tmp_path, caplog, monkeypatch):
    # TFDS logs "Variant folder .../mnist/3.0.1 has no dataset_info.json" through absl for a
    # folder that does not exist; auto must stay quiet about it and still fall back.
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(datasets, "download", _no_download)
    before = logging.getLogger("absl").level
    with caplog.at_level(logging.WARNING):
        ds = load("mnist", "test", "auto", data_dir=tmp_path / "absent")
    assert ds.source.startswith("embedded") and len(ds) == 1000
    assert [r.getMessage() for r in caplog.records if r.name == "absl"] == []
    assert logging.getLogger("absl").level == before  # restored


def _no_download(*args, **kwargs):
    raise datasets.DatasetNotFound("offline (test)")


def _sha256_of(path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


def test_another_datasets_file_is_named_as_such(tmp_path, monkeypatch):
    """A full-size file whose content is another registered dataset's file of that name is
    refused as that dataset's (not as damaged); any other mismatch is damaged."""
    write_split(tmp_path, "test", n=5)
    stems = datasets.FILES["test"]
    monkeypatch.setattr(datasets, "SIZES", {"train": 12, "test": 5})  # "full size" here
    monkeypatch.setattr(datasets, "CONTENT_SHA256", {
        "mnist": {s: _sha256_of(tmp_path / f"{s}.gz") for s in stems},
        "fashion_mnist": {s: "0" * 64 for s in stems}})
    assert len(load("mnist", "test", "idx", data_dir=tmp_path)) == 5
    with pytest.raises(datasets.WrongDataset) as info:
        load("fashion_mnist", "test", "idx", data_dir=tmp_path)
    assert str(info.value) == (f"{tmp_path / 't10k-images-idx3-ubyte.gz'} is mnist's file, "
                               "not fashion_mnist's: use a directory that holds "
                               "fashion_mnist's files")
    assert (info.value.found, info.value.wanted) == ("mnist", "fashion_mnist")
    assert isinstance(info.value, CorruptDataset)  # callers that catch that still do
    write_split(tmp_path, "test", n=5, seed=1)  # neither dataset's
    with pytest.raises(CorruptDataset) as info:
        load("mnist", "test", "idx", data_dir=tmp_path)
    assert not isinstance(info.value, datasets.WrongDataset)
    assert str(info.value).startswith(
        f"{tmp_path / 't10k-images-idx3-ubyte.gz'}: sha256 of the decompressed content is ")
    assert str(info.value).endswith(
        f", expected {datasets.CONTENT_SHA256['mnist']['t10k-images-idx3-ubyte']}; the file "
        "is damaged or not the upstream one; fetch it again")


_JAXBASICS_DATA = os.environ.get("JAXBASICS_DATA")  # read before no_outside_data unsets it


def _shared_mnist() -> Path | None:
    """The shared full MNIST (``$JAXBASICS_DATA[/mnist]``, as ``.ci/run`` sets it, or
    ``../shared/data/mnist`` beside the checkout), or None."""
    env = _JAXBASICS_DATA
    candidates = ([Path(env) / "mnist", Path(env)] if env else []) + [
        Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"]
    return next((d for d in candidates if (d / "t10k-images-idx3-ubyte.gz").is_file()), None)


def test_mnists_and_fashion_mnists_files_are_told_apart_if_present():
    mnist = _shared_mnist()
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if mnist is None and not (fashion / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("neither the shared full MNIST nor dataset-fashion-mnist here")
    if mnist is not None:
        if (mnist / "SHA256SUMS").is_file():  # the published values, as registered
            sums = dict(line.split()[::-1] for line in (mnist / "SHA256SUMS").read_text()
                        .splitlines() if line.strip())
            assert sums == datasets.CONTENT_SHA256["mnist"]
        assert len(load("mnist", "test", "idx", data_dir=mnist)) == 10_000
        with pytest.raises(datasets.WrongDataset, match=r"t10k-images-idx3-ubyte.gz is "
                           "mnist's file, not fashion_mnist's"):
            load("fashion_mnist", "test", "idx", data_dir=mnist)
    if (fashion / "t10k-images-idx3-ubyte.gz").is_file():
        with pytest.raises(datasets.WrongDataset, match=r"t10k-images-idx3-ubyte.gz is "
                           "fashion_mnist's file, not mnist's"):
            load("mnist", "test", "idx", data_dir=fashion)


def test_the_command_line_reports_missing_or_wrong_files_in_one_line(tmp_path):
    """``--source idx`` on a directory without IDX files, and fashion_mnist pointed at
    MNIST's files: one line, exit 2, no traceback."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, JAXBASICS_COMPILATION_CACHE="0")

    def run(*flags):
        return subprocess.run([sys.executable, "-m", "experiments.mnist_first", "--quick",
                               "--out", str(tmp_path / "out"), *flags], capture_output=True,
                              text=True, env=env)

    done = run("--source", "idx", "--data-dir", str(empty))
    assert done.returncode == 2, done.stderr
    cache = os.path.join(os.environ["XDG_CACHE_HOME"], "jaxbasics", "mnist")
    assert done.stderr.splitlines() == [
        f"mnist_first.py: error: no IDX files for 'mnist' (train-images-idx3-ubyte.gz, "
        f"train-labels-idx1-ubyte.gz) in any of: {empty}, {empty / 'mnist'}, {cache}, "
        "/usr/share/datasets/mnist. Put the four upstream files in one of them (or pass "
        "--data-dir), use --source download, or --source embedded"]  # the library's, in flags
    mnist = _shared_mnist()
    if mnist is None:
        return
    done = run("--dataset", "fashion_mnist", "--data-dir", str(mnist))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"mnist_first.py: error: argument --data-dir: {mnist / 'train-images-idx3-ubyte.gz'} "
        "is mnist's file, not fashion_mnist's: point --data-dir at fashion_mnist's files"]


def test_keys_and_row_counts_are_checked_where_they_enter():
    from jaxbasics import data
    from jaxbasics.dropout import dropout
    for call in (lambda: dropout(jnp.ones(3), 0.5, 0), lambda: data.epoch_indices(0, 10, 2),
                 lambda: data.linear_data(0), lambda: data.synthetic_data(7)):
        with pytest.raises(TypeError, match=r"key must be a PRNG key, jax.random.key\(seed\); "
                                            r"got int$"):
            call()
    raw, typed = jax.random.PRNGKey(3), jax.random.key(3)  # both kinds of key are keys
    np.testing.assert_array_equal(data.epoch_indices(raw, 10, 2),
                                  data.epoch_indices(jax.random.wrap_key_data(raw), 10, 2))
    assert data.epoch_indices(typed, 10, 2).shape == (5, 2)
    with pytest.raises(ValueError, match="data leaf 0 has 100, data leaf 1 has 120"):
        data.train_val_split((np.arange(100.0), np.arange(120.0)), 0.2)

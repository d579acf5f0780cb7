"""The model file: round trips, files of other programs, damaged files, interrupted saves.

Loading must either give back the estimator that was saved or raise ModelFileError (a
ValueError) saying what is wrong; saving must never leave a half-written file in place.
"""

import ast
import collections
import io
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import NotFittedError

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, ModelFileError, persistence

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DATA = Path(__file__).parent / "data"
META = "fastmlp_metadata"
CHECKSUM = "fastmlp_checksum"


def small(cls=MLPClassifier, **params):
    defaults = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0, learning_rate_init=0.01)
    defaults.update(params)
    return cls(**defaults)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X[::3], y[::3]  # 50 rows keep the fits and the fuzzed file small


@pytest.fixture(scope="module")
def saved(iris, tmp_path_factory):
    """A small fitted classifier, its file's bytes and its predictions."""
    X, y = iris
    est = small(hidden_layer_sizes=(3,), max_iter=3).fit(X, y)
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    fastmlp.save(est, path)
    return est, path, path.read_bytes(), est.predict_proba(X)


def _assert_same_model(loaded, est, X):
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert_array_equal(loaded._net.params, est._net.params)
    assert loaded._net.dtype == est._net.dtype
    assert_array_equal(loaded.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
        assert_array_equal(loaded.classes_, est.classes_)
        assert loaded.classes_.dtype == est.classes_.dtype


def _roundtrip(est, tmp_path):
    path = tmp_path / "model.npz"
    fastmlp.save(est, path)
    return fastmlp.load(path)


# ---- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("labels", ["binary", "multiclass", "strings"])
def test_classifier_round_trip(iris, tmp_path, labels, dtype):
    X, y = iris
    X = X.astype(dtype)
    if labels == "binary":
        y = y == 2
    elif labels == "strings":
        y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    est = small().fit(X, y)
    loaded = _roundtrip(est, tmp_path)
    _assert_same_model(loaded, est, X)
    assert loaded._net.dtype == dtype
    assert_array_equal(loaded.loss_curve_, est.loss_curve_)


def test_multilabel_and_lbfgs_round_trip(tmp_path):
    X, Y = make_multilabel_classification(n_samples=40, n_features=6, n_classes=3, random_state=0)
    est = small(solver="lbfgs").fit(X, Y)
    loaded = _roundtrip(est, tmp_path)
    _assert_same_model(loaded, est, X)
    assert loaded._label_binarizer.y_type_ == "multilabel-indicator"
    assert_array_equal(loaded.history_.loss, est.history_.loss)
    assert loaded._optimizer is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regressor_round_trip_and_partial_fit_continues(tmp_path, dtype):
    X, Y = make_regression(n_samples=40, n_features=4, n_targets=2, random_state=0)
    X = X.astype(dtype)
    est = small(MLPRegressor, solver="sgd", momentum=0.9, early_stopping=True).fit(X, Y)
    loaded = _roundtrip(est, tmp_path)
    _assert_same_model(loaded, est, X)
    assert_array_equal(loaded.validation_scores_, est.validation_scores_)
    # The optimizer state (momentum), the schedule and the stopping counters travel too:
    # two more steps on both give identical weights and histories.
    for model in (est, loaded):
        model.set_params(early_stopping=False)  # partial_fit refuses early stopping
    for _ in range(2):
        est.partial_fit(X, Y)
        loaded.partial_fit(X, Y)
    assert_array_equal(loaded._net.params, est._net.params)
    assert_array_equal(loaded.loss_curve_, est.loss_curve_)
    assert loaded.n_iter_ == est.n_iter_ and loaded.t_ == est.t_


def test_save_function_and_method_write_the_same_model(iris, tmp_path):
    est = small().fit(*iris)
    est.save(tmp_path / "a.npz")
    fastmlp.save(est, tmp_path / "b.npz")
    a, b = fastmlp.load(tmp_path / "a.npz"), fastmlp.load(tmp_path / "b.npz")
    assert_array_equal(a._net.params, b._net.params)
    with np.load(tmp_path / "a.npz") as fa, np.load(tmp_path / "b.npz") as fb:
        assert str(fa[CHECKSUM]) == str(fb[CHECKSUM])  # same contents, same checksum


def test_save_refuses_what_it_cannot_write(iris, tmp_path):
    with pytest.raises(NotFittedError):
        fastmlp.save(MLPClassifier(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="save expects a fastmlp estimator"):
        fastmlp.save(object(), tmp_path / "m.npz")

    class Mine(MLPClassifier):  # not registered: it would load as something else
        pass

    with pytest.raises(TypeError, match="Mine"):
        fastmlp.save(Mine(hidden_layer_sizes=(3,), max_iter=2).fit(*iris), tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_registry_refuses_a_second_class_of_the_same_name():
    class MLPRegressor:  # noqa: F811 - the clash is the point
        pass

    with pytest.raises(ValueError, match="already belongs to fastmlp.estimators"):
        persistence.register(MLPRegressor)
    assert persistence._REGISTRY["MLPRegressor"] is fastmlp.MLPRegressor


def test_persistence_does_not_import_the_estimators():
    tree = ast.parse(Path(persistence.__file__).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [m for m in imported if "estimators" in m]


def test_version_1_files_still_load():
    """A file written by fastmlp 0.1.0 (format 1: no manifest, no checksum)."""
    expected = np.load(DATA / "model_v1_expected.npz")
    with np.load(DATA / "model_v1.npz") as raw:
        assert json.loads(raw[META].tobytes())["format_version"] == 1
        params = raw["params"]
    est = fastmlp.load(DATA / "model_v1.npz")
    assert_array_equal(est._net.params, params)
    assert_array_equal(est.predict_proba(expected["X"]), expected["proba"])
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]


# ---- files written by other programs ---------------------------------------------------
def _foreign_files(tmp_path, est):
    X = np.zeros((2, 4))
    files = {
        "text": b"hello, this is not a model\n",
        "empty": b"",
        "pickle": pickle.dumps(est),
        "npy": b"",
        "npz of someone else": b"",
        "zip of a text file": b"",
    }
    buffer = io.BytesIO()
    np.save(buffer, X)
    files["npy"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, params=np.zeros(3), fastmlp_metadata=np.zeros(3, np.uint8))
    files["npz of someone else"] = buffer.getvalue()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    files["zip of a text file"] = buffer.getvalue()
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name.replace(" ", "_")
        paths[name].write_bytes(data)
    for compress in (0, 3, "gzip", "bz2", "xz"):
        paths[f"joblib compress={compress}"] = tmp_path / f"model_{compress}.joblib"
        joblib.dump(est, paths[f"joblib compress={compress}"], compress=compress)
    return paths


def test_files_of_other_programs_are_refused_clearly(saved, tmp_path):
    est = saved[0]
    for kind, path in _foreign_files(tmp_path, est).items():
        with pytest.raises(ModelFileError, match="not a fastmlp model file") as info:
            fastmlp.load(path)
        message = str(info.value)
        assert "allow_pickle" not in message, kind
        if "pickle" in kind or "joblib compress=0" in kind:
            assert "pickle" in message, kind
        elif "joblib" in kind:
            assert "compressed" in message, kind
    assert issubclass(ModelFileError, ValueError)


def test_missing_files_raise_the_usual_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastmlp.load(tmp_path / "absent.npz")
    with pytest.raises(IsADirectoryError):
        fastmlp.load(tmp_path)


# ---- files altered by hand or by a buggy writer ----------------------------------------
def _rewrite(source, target, edit, rechecksum=True):
    """Rewrite a model file through numpy (so the zip is valid), editing its entries.

    With ``rechecksum`` the checksum is recomputed: a consistent file of wrong content,
    as a buggy writer would produce; without, an altered file.
    """
    with np.load(source) as archive:
        entries = dict(archive)
    meta = json.loads(entries[META].tobytes())
    edit(meta, entries)
    if META in entries:  # (unless the edit dropped it)
        entries[META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    if rechecksum:
        entries[CHECKSUM] = np.array(
            persistence._checksum(
                (name, a.dtype, a.shape, a.tobytes()) for name, a in entries.items()
            )
        )
    np.savez(target, **entries)
    return target


def _drop_params(meta, entries):
    del entries["params"], meta["arrays"]["params"]


def _shorter_params(meta, entries):
    entries["params"] = entries["params"][:5]
    meta["arrays"]["params"] = ["<f8", [5]]


def _float32_params(meta, entries):
    entries["params"] = entries["params"].astype(np.float32)
    meta["arrays"]["params"][0] = "<f4"


def _set(*keys, value):
    def edit(meta, entries):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


EDITS = {
    # name: (edit, recompute the checksum, expected message)
    "array changed": (
        lambda meta, entries: entries["params"].__setitem__(0, 1.5),
        False,
        "checksum does not match",
    ),
    "metadata changed": (
        _set("state", "fitted", "n_iter_", value=7),
        False,
        "checksum does not match",
    ),
    "checksum missing": (
        lambda meta, entries: entries.pop(CHECKSUM),
        False,
        "'fastmlp_checksum' entry is missing",
    ),
    "metadata missing": (
        lambda meta, entries: entries.pop(META),
        False,
        "'fastmlp_metadata' entry is missing",
    ),
    "array missing": (
        lambda meta, entries: entries.pop("params"),
        True,
        r"lists arrays the file lacks: \['params'\]",
    ),
    "array not listed": (
        lambda meta, entries: entries.update(extra=np.zeros(2)),
        True,
        r"does not list: \['extra'\]",
    ),
    "shape in metadata disagrees": (
        _set("arrays", "params", value=["<f8", [4]]),
        True,
        r"'params' is float64 of shape \(\d+,\) in the file, but",
    ),
    "dtype in metadata disagrees": (
        _set("arrays", "classes", value=["<i4", [3]]),
        True,
        "'classes' is int64 .* metadata says int32",
    ),
    "manifest missing": (
        lambda meta, entries: meta.pop("arrays"),
        True,
        "no manifest of the arrays",
    ),
    "array missing from both": (_drop_params, True, "MLPClassifier state lacks 'params'"),
    "array of the wrong size": (
        _shorter_params,
        True,
        r"params is float64 of shape \(5,\), the network needs",
    ),
    "array of the wrong dtype": (_float32_params, True, "params is float32 .* needs float64"),
    "unknown class": (
        _set("estimator", value="MLPSomething"),
        True,
        "unknown class 'MLPSomething'",
    ),
    "invalid version": (_set("format_version", value="2"), True, "invalid format version '2'"),
    "relabelled as version 1": (
        _set("format_version", value=1),
        True,
        "claims format version 1 but has a checksum",
    ),
    "newer version": (
        _set("format_version", value=3),
        True,
        "format version 3 .*newer than the version 2.*upgrade fastmlp",
    ),
    "state key missing": (
        lambda meta, entries: meta["state"].pop("network"),
        True,
        "state lacks 'network'",
    ),
    "state value invalid": (
        _set("state", "network", "layer_sizes", value=[4, -3, 3]),
        True,
        "state is invalid",
    ),
    "parameter invalid": (
        _set("state", "params", "solver", value="magic"),
        True,
        "state is invalid",
    ),
    "classes disagree with outputs": (
        _set("state", "label_binarizer", "y_type_", value="binary"),
        True,
        "3 classes .binary. for a network of 3 outputs",
    ),
    "fitted value disagrees": (
        _set("state", "fitted", "n_features_in_", value=9),
        True,
        r"n_features_in_ is 9 for a network of layer sizes \[4, 3, 3\]",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_altered_files_are_refused_saying_what_is_wrong(saved, tmp_path, case):
    edit, rechecksum, message = EDITS[case]
    path = _rewrite(saved[1], tmp_path / "altered.npz", edit, rechecksum)
    with pytest.raises(ModelFileError, match=message):
        fastmlp.load(path)


def _zip_with_entry(path, source, name, raw):
    """Copy ``source`` to ``path`` with entry ``name`` replaced by ``raw`` bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, raw if info.filename == name else old.read(info))
    return path


def test_huge_declared_sizes_are_refused_before_allocating(saved, tmp_path):
    # A .npy header declaring 10**12 float64 (8 TB), agreed by the manifest, checksum
    # recomputed: only the size check against the entry's bytes can stop it.
    huge = (10**12,)
    altered = _rewrite(
        saved[1], tmp_path / "a.npz", _set("arrays", "params", value=["<f8", list(huge)])
    )
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": huge}
    )
    path = _zip_with_entry(
        tmp_path / "huge.npz", altered, "params.npy", header.getvalue() + np.zeros(3).tobytes()
    )
    tracemalloc.start()
    with pytest.raises(ModelFileError, match=r"declares float64 of shape \(1000000000000,\)"):
        fastmlp.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20  # the file is a few KB; nothing near the declared size is allocated

    # A zip directory declaring an entry of 4 GB in a file of a few KB.
    data = bytearray(saved[2])
    with zipfile.ZipFile(saved[1]) as archive:
        entry = archive.start_dir  # the first central directory record
    data[entry + 20 : entry + 28] = (2**32 - 2).to_bytes(4, "little") * 2
    (tmp_path / "big.npz").write_bytes(data)
    with pytest.raises(ModelFileError, match="4294967294 bytes at offset 0, beyond the end"):
        fastmlp.load(tmp_path / "big.npz")


def test_entries_fastmlp_never_writes_are_refused(saved, tmp_path):
    with (
        zipfile.ZipFile(saved[1]) as old,
        zipfile.ZipFile(tmp_path / "deflated.npz", "w", compression=zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
    with pytest.raises(ModelFileError, match="is compressed"):
        fastmlp.load(tmp_path / "deflated.npz")
    buffer = io.BytesIO()
    np.save(buffer, np.array([None, 1], dtype=object), allow_pickle=True)
    path = _zip_with_entry(tmp_path / "object.npz", saved[1], "classes.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match="'classes' has dtype object, which fastmlp never"):
        fastmlp.load(path)


# ---- fuzzing: every truncation, a sample of byte flips ---------------------------------
_CATEGORIES = (
    ("empty file", "it is empty"),
    ("not a zip archive", "not a fastmlp model file: (not a zip|a zip archive that)"),
    ("zip directory unreadable", "File is not a zip file|Truncated central directory"),
    ("zip CRC-32 mismatch", "Bad CRC-32"),
    ("zip names disagree", "File name in directory"),
    ("zip local header damaged", "Bad magic number|Overlapped|zip file version"),
    ("zip extra field damaged", "Corrupt extra field"),
    ("entry runs past the end of the file", "EOFError"),
    ("zip entry flags", "is compressed|is encrypted|compression method"),
    ("declared size vs file", "declares|holds .* bytes"),
    ("manifest vs entries", "metadata lists|metadata does not list|metadata says"),
    ("entry names", "not .npy arrays|lacks the 'fastmlp_magic'"),
    ("checksum mismatch", "checksum does not match"),
)


def _category(message):
    for name, pattern in _CATEGORIES:
        if re.search(pattern, message):
            return name
    return "other: " + message.split(" is damaged: ")[-1]


def _load_outcome(path, original, X):
    """How loading a damaged file went: its failure's category, or an identical model."""
    try:
        loaded = fastmlp.load(path)
    except ModelFileError as exc:
        return _category(str(exc))
    # Only bytes that do not matter (zip timestamps, fields zipfile ignores) may load, and
    # then the checksum has verified everything: the same model.
    _assert_same_model(loaded, original, X)
    return "loaded, identical"


def test_fuzz_truncations_and_byte_flips(saved, iris, tmp_path, capsys):
    est, _, data, _ = saved
    X = iris[0]
    path = tmp_path / "damaged.npz"
    path.write_bytes(data)
    truncations = collections.Counter()
    for size in range(len(data) - 1, -1, -1):
        os.truncate(path, size)  # cheaper than rewriting the file each time
        truncations[_load_outcome(path, est, X)] += 1
    assert truncations["loaded, identical"] == 0

    rng = np.random.default_rng(0)
    flips = collections.Counter()
    path.write_bytes(data)
    with open(path, "r+b") as f:
        for _ in range(300):
            offset = int(rng.integers(len(data)))
            f.seek(offset)
            f.write(bytes([data[offset] ^ int(rng.integers(1, 256))]))
            f.flush()
            flips[_load_outcome(path, est, X)] += 1
            f.seek(offset)
            f.write(data[offset : offset + 1])
            f.flush()
    with capsys.disabled():
        print(f"\nmodel file of {len(data)} bytes")
        print(f"truncations at every offset ({sum(truncations.values())}):")
        for category, count in truncations.most_common():
            print(f"  {count:5d}  {category}")
        print(f"single-byte flips, seeded ({sum(flips.values())}):")
        for category, count in flips.most_common():
            print(f"  {count:5d}  {category}")


# ---- interrupted saves -----------------------------------------------------------------
_KILLED_SAVE = textwrap.dedent("""
    import io, os, sys
    import numpy as np
    import fastmlp

    path, where = sys.argv[1], sys.argv[2]
    est = fastmlp.load(path)
    est.coefs_ = [2 * c for c in est.coefs_]  # a different model, to be saved over the old
    write_all = np.savez

    def dying_savez(file, **entries):
        buffer = io.BytesIO()
        write_all(buffer, **entries)
        data = buffer.getvalue()
        file.write(data[: int(len(data) * float(where))])
        file.flush()
        os.fsync(file.fileno())
        os._exit(3)  # killed mid-write: no cleanup, no exception handler runs

    def dying_replace(source, target):
        os._exit(4)  # killed after the complete write, before the rename

    if where == "rename":
        os.replace = dying_replace
    else:
        np.savez = dying_savez
    est.save(path)
""")


@pytest.mark.parametrize("where, code", [("0", 3), ("0.5", 3), ("rename", 4)])
def test_killed_save_leaves_the_previous_file_intact(saved, iris, tmp_path, where, code):
    est, _, data, proba = saved
    path = tmp_path / "model.npz"
    path.write_bytes(data)
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_SAVE, str(path), where],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == code, child.stderr
    assert path.read_bytes() == data
    assert_array_equal(fastmlp.load(path).predict_proba(iris[0]), proba)
    # the killed process leaves its temporary file beside the target, never in its place
    assert [
        p.name.startswith(".model.npz.") for p in tmp_path.iterdir() if p.name != "model.npz"
    ] == [True]

"""The fastmlp model file: a format that knows nothing about what it stores.

A model file is a NumPy ``.npz`` archive (an uncompressed zip of ``.npy`` entries, which
``numpy.load(path, allow_pickle=False)`` can also open) with three format entries:

``fastmlp_magic``
    The string ``"fastmlp-estimator"``.
``fastmlp_metadata``
    A UTF-8 JSON object stored as a uint8 array: the format version, the fastmlp version,
    the registered name of the estimator's class, a manifest (dtype and shape) of every
    other array, and the estimator's own JSON state under ``"state"``.
``fastmlp_checksum``
    The SHA-256 (hex) over every other entry's name, dtype, shape and bytes, in name order
    (the metadata included).

The other entries are the estimator's arrays. What they mean belongs to the estimator class
(``_to_state`` and the classmethod ``_from_state``); :func:`load` finds the class by name in
a registry that :func:`register` fills when the estimators are defined.

Reading trusts nothing in the file. Pickles are never unpickled; the sizes declared by the
zip directory and by each ``.npy`` header are checked against the file's size and against
the manifest before anything is allocated; the checksum is verified before the estimator is
built. Every problem raises :class:`ModelFileError` (a ``ValueError``) saying what is wrong.

Writing goes to a temporary file in the target's directory, flushed to disk, then renamed
over the target (``os.replace``): a write that fails or is killed at any point leaves the
previous file as it was.

Format versions: 1 (fastmlp 0.1.0) had no manifest and no checksum and kept the estimator's
state at the top level of the metadata; it is still read, with the zip's CRC-32 as its only
integrity check. 2 adds the manifest, the checksum and the ``"state"`` key.
"""

import collections
import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

MAGIC = "fastmlp-estimator"
FORMAT_VERSION = 2
_MAGIC_KEY = "fastmlp_magic"
_META_KEY = "fastmlp_metadata"
_CHECKSUM_KEY = "fastmlp_checksum"
_FORMAT_KEYS = (_MAGIC_KEY, _META_KEY, _CHECKSUM_KEY)
_SUFFIX = ".npy"
# dtype kinds an estimator may store: bool, integers, floats, unicode strings.
_STORABLE_KINDS = "biufU"

# What zipfile and the .npy header parser raise on damaged input, besides BadZipFile.
_PARSE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    NotImplementedError,
    UnicodeDecodeError,
    SyntaxError,
    OSError,
)

# Leading bytes of files that other programs write, for a message that names them.
_FOREIGN_SIGNATURES = (
    (b"\x93NUMPY", "a plain .npy array (numpy.save), not an archive"),
    (b"\x80", "a pickle (pickle.dump or joblib.dump); fastmlp.load never unpickles"),
    (b"\x1f\x8b", "a gzip-compressed file (for example joblib.dump with compress=)"),
    (b"BZh", "a bz2-compressed file (for example joblib.dump with compress=)"),
    (b"\xfd7zXZ", "an xz-compressed file (for example joblib.dump with compress=)"),
    (b"\x04\x22\x4d\x18", "an lz4-compressed file (for example joblib.dump with compress=)"),
    (b"\x89HDF", "an HDF5 file"),
)
_ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


class ModelFileError(ValueError):
    """A file that is not a fastmlp model file, is damaged, or is of a newer format."""


# ---- the registry: class names in the file -> estimator classes ------------------------
_REGISTRY = {}


def register(cls):
    """Class decorator: let :func:`save` write and :func:`load` rebuild ``cls``.

    ``cls`` provides ``_to_state(self) -> (arrays, state)``, where ``arrays`` maps names to
    ndarrays and ``state`` is JSON-ready (tuples, NumPy scalars and arrays allowed), and the
    classmethod ``_from_state(arrays, state)`` that builds an instance from them. The file
    records ``cls.__name__``.
    """
    known = _REGISTRY.get(cls.__name__)
    if known is not None and _qualified_name(known) != _qualified_name(cls):
        raise ValueError(
            f"Cannot register {_qualified_name(cls)}: the name {cls.__name__!r} already "
            f"belongs to {_qualified_name(known)}."
        )
    _REGISTRY[cls.__name__] = cls
    return cls


def _qualified_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


# ---- writing ---------------------------------------------------------------------------
def save(estimator, path):
    """Write a fitted estimator to a model file.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted fastmlp estimator.
    path : str or path-like
        Target file; no suffix is added. Written atomically: to a temporary file in the
        same directory, flushed to disk, then renamed over ``path``, so an interrupted
        save leaves a previous file at ``path`` intact.

    Raises
    ------
    TypeError
        If ``estimator`` is not of a class that fastmlp can save.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    See Also
    --------
    load : Read the file back.
    """
    cls = type(estimator)
    if _REGISTRY.get(cls.__name__) is not cls:
        raise TypeError(
            f"save expects a fastmlp estimator ({', '.join(sorted(_REGISTRY))}), got "
            f"{_qualified_name(cls)}."
        )
    arrays, state = estimator._to_state()
    arrays = {name: _storable(name, array) for name, array in arrays.items()}
    clash = sorted(set(arrays) & set(_FORMAT_KEYS))
    if clash:
        raise ValueError(f"{cls.__name__}._to_state uses the reserved names {clash}.")
    from . import __version__

    meta = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "fastmlp_version": __version__,
        "estimator": cls.__name__,
        "arrays": {name: [a.dtype.str, list(a.shape)] for name, a in sorted(arrays.items())},
        "state": _to_json(state),
    }
    entries = dict(arrays)
    entries[_MAGIC_KEY] = np.array(MAGIC)
    entries[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    entries[_CHECKSUM_KEY] = np.array(
        _checksum(
            (name, a.dtype, a.shape, a.reshape(-1).view(np.uint8)) for name, a in entries.items()
        )
    )
    _write_atomically(os.fspath(path), entries)


def _storable(name, array):
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in _STORABLE_KINDS:
        raise TypeError(f"Cannot store {name!r} of dtype {array.dtype} in a model file.")
    return array


def _checksum(entries):
    """SHA-256 (hex) over (name, dtype, shape, data) of each entry but the checksum.

    ``data`` is any contiguous buffer of the entry's bytes (hashed without a copy).
    """
    digest = hashlib.sha256(b"fastmlp model checksum\n")
    for name, dtype, shape, data in sorted(entries, key=lambda entry: entry[0]):
        if name == _CHECKSUM_KEY:
            continue
        size = memoryview(data).nbytes
        header = json.dumps([name, dtype.str, [int(n) for n in shape], size])
        digest.update(header.encode("utf-8") + b"\n")
        digest.update(data)
    return digest.hexdigest()


def _write_atomically(path, entries):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp creates 0o600; give the file the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename durable; not possible everywhere (Windows), and not needed there."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _to_json(value):
    """JSON-ready form of ``value``; tuples are tagged so that they load as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_to_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot store a value of type {type(value).__name__} in a model file.")


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


# ---- reading ---------------------------------------------------------------------------
def load(path):
    """Read an estimator written by :func:`save` (or ``estimator.save``).

    Opening a file never runs code from it (no pickle).

    Parameters
    ----------
    path : str or path-like
        A model file.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator, with its optimizer state: ``partial_fit`` continues where
        the saved one stopped.

    Raises
    ------
    ModelFileError
        A ``ValueError``: the file was not written by fastmlp, is damaged (truncated,
        altered, inconsistent), or is of a newer format version than this fastmlp reads.
    OSError
        If the file cannot be opened (missing, a directory, no permission).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        _check_signature(f.read(8), path)
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as archive:
                meta, arrays = _Reader(archive, size, path).read()
        except ModelFileError:
            raise
        except _PARSE_ERRORS as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ModelFileError(
                f"{path!r} is damaged (truncated or corrupted): not a readable zip archive "
                f"({detail})."
            ) from exc
    return _build(meta, arrays, path)


def _check_signature(head, path):
    """Refuse files that are not zip archives, naming what they look like."""
    if head.startswith(b"PK\x03\x04"):
        return
    if not head:
        raise ModelFileError(f"{path!r} is not a fastmlp model file: it is empty.")
    if head.startswith(b"PK"):
        what = "a zip archive that does not start with an entry (empty, or damaged)"
    else:
        what = next((w for sig, w in _FOREIGN_SIGNATURES if head.startswith(sig)), None)
        if what is None and head[:2] in _ZLIB_HEADERS:
            what = "a zlib-compressed file (for example joblib.dump with compress=)"
        if what is None:
            what = f"not a zip archive (it starts with {head!r})"
    raise ModelFileError(f"{path!r} is not a fastmlp model file: {what}.")


class _Reader:
    """Reads and checks the entries of one open archive; raises ModelFileError."""

    def __init__(self, archive, size, path):
        self.archive = archive
        self.size = size
        self.path = path
        self.entries = archive.infolist()
        self.infos = {
            info.filename[: -len(_SUFFIX)]: info
            for info in self.entries
            if info.filename.endswith(_SUFFIX)
        }

    def fail(self, problem):
        raise ModelFileError(f"{self.path!r} is damaged: {problem}.")

    def read(self):
        """The metadata (a dict) and the estimator's arrays, checked."""
        if _MAGIC_KEY not in self.infos:
            raise ModelFileError(
                f"{self.path!r} is not a fastmlp model file: it lacks the {_MAGIC_KEY!r} "
                "format key (it was not written by fastmlp.save)."
            )
        counts = collections.Counter(info.filename for info in self.entries)
        odd = sorted(n for n, k in counts.items() if k > 1 or not n.endswith(_SUFFIX))
        if odd:
            self.fail(f"it has entries that are not .npy arrays, or repeated ones: {odd[:5]}")
        for info in self.entries:
            self.check_directory_entry(info)
        magic = self.array(_MAGIC_KEY)
        if magic.dtype.kind != "U" or magic.shape != () or str(magic) != MAGIC:
            raise ModelFileError(f"{self.path!r} is not a fastmlp model file (wrong format key).")
        meta = self.metadata()
        version = meta.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.fail(f"invalid format version {version!r}")
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"{self.path!r} was written in fastmlp model format version {version} (by "
                f"fastmlp {meta.get('fastmlp_version', '?')}), newer than the version "
                f"{FORMAT_VERSION} this fastmlp reads; upgrade fastmlp to load it."
            )
        if version == 1:
            if _CHECKSUM_KEY in self.infos:  # a later file relabelled, to skip the checksum
                self.fail("it claims format version 1 but has a checksum (version 2 or later)")
            return meta, self.unverified_arrays()
        return meta, self.verified_arrays(meta)

    def check_directory_entry(self, info):
        """Refuse what fastmlp never writes, and sizes the file cannot hold."""
        name = info.filename
        if info.flag_bits & 0x1:
            self.fail(f"entry {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            self.fail(f"entry {name!r} is compressed (fastmlp writes uncompressed entries)")
        if info.compress_size != info.file_size:
            self.fail(
                f"entry {name!r} declares {info.compress_size} stored bytes for "
                f"{info.file_size} bytes of data"
            )
        if info.header_offset + info.compress_size > self.size:
            self.fail(
                f"entry {name!r} declares {info.compress_size} bytes at offset "
                f"{info.header_offset}, beyond the end of the {self.size}-byte file"
            )

    def metadata(self):
        if _META_KEY not in self.infos:
            self.fail(f"the {_META_KEY!r} entry is missing")
        raw = self.array(_META_KEY)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            self.fail(f"the {_META_KEY!r} entry is {raw.dtype} of shape {raw.shape}, not bytes")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            self.fail(f"the metadata is not valid JSON ({exc})")
        if not isinstance(meta, dict):
            self.fail(f"the metadata is a JSON {type(meta).__name__}, not an object")
        return meta

    def unverified_arrays(self):
        """Version 1: no manifest and no checksum; the zip's CRC-32 is the only check."""
        return {name: self.array(name) for name in self.infos if name not in _FORMAT_KEYS}

    def verified_arrays(self, meta):
        manifest = self.manifest(meta.get("arrays"))
        names = set(self.infos) - set(_FORMAT_KEYS)
        missing, unexpected = sorted(set(manifest) - names), sorted(names - set(manifest))
        if missing:
            self.fail(f"the metadata lists arrays the file lacks: {missing}")
        if unexpected:
            self.fail(f"the file holds arrays its metadata does not list: {unexpected}")
        if _CHECKSUM_KEY not in self.infos:
            self.fail(f"the {_CHECKSUM_KEY!r} entry is missing")
        stored = self.array(_CHECKSUM_KEY)
        if stored.dtype.kind != "U" or stored.shape != ():
            self.fail(f"the {_CHECKSUM_KEY!r} entry is not a string")
        raws = {name: self.raw(name, manifest.get(name)) for name in self.infos}
        if _checksum((name, *raw) for name, raw in raws.items()) != str(stored):
            self.fail(
                "its checksum does not match its contents (the file was altered or "
                "corrupted after it was written)"
            )
        return {name: _array(*raws[name]) for name in manifest}

    def manifest(self, listed):
        """{name: (dtype, shape)} from the metadata's list of arrays."""
        if not isinstance(listed, dict):
            self.fail("the metadata has no manifest of the arrays")
        manifest = {}
        for name, spec in listed.items():
            try:
                dtype_str, shape = spec
                if not isinstance(dtype_str, str) or not isinstance(shape, list):
                    raise TypeError("a [dtype, shape] pair expected")
                dtype = np.dtype(dtype_str)
                if not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
                ):
                    raise ValueError(f"invalid shape {shape!r}")
            except (TypeError, ValueError) as exc:
                self.fail(f"the manifest's entry for {name!r} is invalid ({exc})")
            manifest[name] = (dtype, tuple(shape))
        return manifest

    def array(self, name):
        return _array(*self.raw(name))

    def raw(self, name, expected=None):
        """(dtype, shape, payload bytes) of an entry, its header checked before any copy."""
        info = self.infos[name]
        data = self.archive.read(info)  # verifies the entry's CRC-32
        if len(data) != info.file_size:
            self.fail(f"entry {name!r} holds {len(data)} bytes, {info.file_size} declared")
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f".npy format version {version} is not one fastmlp writes")
        except _PARSE_ERRORS as exc:
            self.fail(f"entry {name!r} is not a valid .npy array ({exc})")
        if dtype.kind not in _STORABLE_KINDS or dtype.hasobject or dtype.fields:
            self.fail(f"entry {name!r} has dtype {dtype}, which fastmlp never writes")
        if fortran_order:
            self.fail(f"entry {name!r} is in Fortran order, which fastmlp never writes")
        if expected is not None and (dtype, shape) != expected:
            self.fail(
                f"array {name!r} is {dtype} of shape {shape} in the file, but the "
                f"metadata says {expected[0]} of shape {expected[1]}"
            )
        count = 1
        for n in shape:
            count *= n
        payload = memoryview(data)[stream.tell() :]
        if dtype.itemsize * count != len(payload) or (dtype.itemsize == 0 and count):
            self.fail(
                f"array {name!r} declares {dtype} of shape {shape} "
                f"({dtype.itemsize * count} bytes) but its entry holds {len(payload)} bytes"
            )
        return dtype, shape, payload


def _array(dtype, shape, payload):
    """A writeable, native-order copy of the payload (sizes already checked)."""
    if dtype.itemsize == 0:  # np.frombuffer refuses these; the entry holds no elements
        return np.zeros(shape, dtype=dtype)
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _build(meta, arrays, path):
    name = meta.get("estimator")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path!r} holds an estimator of unknown class {name!r} (this fastmlp reads "
            f"{', '.join(sorted(_REGISTRY))})."
        )
    # Version 1 kept the estimator's state at the top level of the metadata.
    state = meta if meta["format_version"] == 1 else meta.get("state")
    if not isinstance(state, dict):
        raise ModelFileError(f"{path!r} is damaged: the metadata has no estimator state.")
    try:
        return cls._from_state(arrays, _from_json(state))
    except ModelFileError:
        raise
    except KeyError as exc:
        raise ModelFileError(
            f"{path!r} is damaged: the {name} state lacks {exc.args[0]!r}."
        ) from exc
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ModelFileError(
            f"{path!r} is damaged: its {name} state is invalid ({type(exc).__name__}: {exc})."
        ) from exc

"""An on-disk kernel cache that cannot go stale.

Numba keys a cached function on its own source file only: an edit to a helper in another
file (a scalar activation, a view intrinsic, a compilation setting) would leave callers'
cached machine code in place. Here every kernel's cache lives in a directory named by a
hash of all the sources under ``kernels/`` and of the compilation settings, so any such
edit moves every kernel to a fresh directory.

The cache goes under ``NUMBA_CACHE_DIR`` when it is set (as Numba's own cache does), else
next to the sources (``kernels/__pycache__``) when that is writable, else in the user's
cache directory (an install into a read-only site-packages). Where nothing is writable the
kernels are simply compiled per process.
"""

import hashlib
import os
from pathlib import Path

from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    _CacheLocator,
    _SourceFileBackedLocatorMixin,
)
from numba.misc.appdirs import AppDirs

from .config import SETTINGS_KEY

KERNELS_DIR = Path(__file__).resolve().parent


def source_key(directory=KERNELS_DIR, settings=SETTINGS_KEY):
    """A short hash of every ``.py`` file under ``directory`` and of ``settings``."""
    digest = hashlib.sha256(settings.encode())
    for path in sorted(directory.rglob("*.py")):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SOURCE_KEY = source_key()


def _cache_roots():
    # NUMBA_CACHE_DIR first, as Numba itself does: it is how a user (or a benchmark of the
    # cold start) points every cache somewhere else.
    if os.environ.get("NUMBA_CACHE_DIR"):
        yield Path(os.environ["NUMBA_CACHE_DIR"]) / "fastmlp"
    yield KERNELS_DIR / "__pycache__"
    yield Path(AppDirs(appname="fastmlp", appauthor=False).user_cache_dir)


class _SourceKeyedLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """Caches a kernel under ``<root>/kernels-<SOURCE_KEY>/<its directory in kernels/>``."""

    def __init__(self, py_func, py_file, cache_path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(cache_path)

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        relative = Path(py_file).resolve().parent.relative_to(KERNELS_DIR)
        for root in _cache_roots():
            locator = cls(py_func, py_file, root / f"kernels-{SOURCE_KEY}" / relative)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None


class _SourceKeyedImpl(CompileResultCacheImpl):
    _locator_classes = [_SourceKeyedLocator]


class _SourceKeyedCache(FunctionCache):
    _impl_class = _SourceKeyedImpl


def _cache_or(cache_class, py_func, fallback):
    # ``fallback`` (Numba's own, disabled) where nothing is writable: compiled in every
    # process, silently.
    try:
        return cache_class(py_func)
    except RuntimeError:
        return fallback


def enable_cache(compiled):
    """Give a Numba dispatcher, or a C function (``numba.core.ccallback.CFunc``), the
    source-keyed cache."""
    py_func = getattr(compiled, "py_func", None) or compiled._pyfunc
    compiled._cache = _cache_or(_SourceKeyedCache, py_func, compiled._cache)
    return compiled


def writes_to_disk(compiled):
    """Whether ``compiled`` (as given to :func:`enable_cache`) has the on-disk cache."""
    return isinstance(compiled._cache, _SourceKeyedCache)


def is_cached(compiled):
    """Whether the disk cache holds an entry of ``compiled`` (its index file exists: a
    kernel compiled before for any dtype counts as cached)."""
    if not writes_to_disk(compiled):
        return False
    return os.path.exists(compiled._cache._cache_file._index_path)

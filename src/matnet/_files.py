"""Atomic file writes: a temporary file beside the target, then a rename, so readers
never see half a file and a failure leaves the old file as it was."""
from __future__ import annotations

import os
import tempfile

__all__ = ["write_atomically"]


def write_atomically(path, write, binary=True):
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it to
    ``path`` (permissions as a plain ``open`` would give).  On any error the temporary
    file is removed and ``path`` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".matnet-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

"""The sandbox's working directory: handing it to the child's uid, reading the child's outputs
back, copying the directory out, removing it (whatever modes the child left)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

OUTPUT_TAIL = 8 << 20
"""Bytes of stdout and stderr kept (the last ones): a child printing without end costs no RAM."""


def chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def tail(path: Path) -> bytes:
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size > OUTPUT_TAIL:
            f.seek(size - OUTPUT_TAIL)
        return f.read()


def keep_copy(cwd: Path, keep: Path) -> None:
    """Copy the working directory to ``keep``: what can be copied, never failing the run.

    A named pipe or socket the child left cannot be copied (``shutil`` refuses, it does not
    wait); nor, without root, a directory or file the child made unreadable, until its rights
    are given back."""
    try:
        shutil.copytree(cwd, keep, symlinks=True, dirs_exist_ok=True)
    except OSError:
        _give_back(cwd)
        with contextlib.suppress(OSError):  # what still fails (a pipe) is left out
            shutil.copytree(cwd, keep, symlinks=True, dirs_exist_ok=True)


def _give_back(root: Path) -> None:
    """Make every directory under ``root`` listable and writable by its owner again.

    Root can list and empty a directory whatever its mode; the caller's own uid (glome not
    running as root, so the child ran as the caller) cannot, once the child chmod'ed it to 0.
    The child's processes are dead by now (the sweep), so nothing swaps a directory for a
    symlink meanwhile; symlinks are skipped all the same (never follow the child's links)."""
    with contextlib.suppress(OSError):
        os.chmod(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
        for name in filenames:  # unreadable files cannot be kept
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if stat.S_ISREG(mode) and not mode & stat.S_IRUSR:
                    os.chmod(path, stat.S_IMODE(mode) | stat.S_IRUSR)


def remove(path: Path) -> None:
    """rmtree that also clears directories the child made unreadable or read-only."""
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        _give_back(path)
        shutil.rmtree(path, ignore_errors=True)

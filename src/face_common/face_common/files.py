"""Crash-safe files: a checkpoint or report is either the old one or the new one, whole.

Writing a file in place destroys the working copy the moment the write starts: a crash,
a kill or a full disk during `mirror-fit` or `lip-train` would leave a torn model and no
good one. `replace_atomically` writes to a temporary file in the same folder, fsyncs it,
renames it over the target (atomic on POSIX) and fsyncs the folder so the rename itself
survives a power cut.
"""

import contextlib
import os
import pathlib
import tempfile


@contextlib.contextmanager
def replace_atomically(path, mode='wb'):
    """Open a temporary file for writing; on a clean exit it replaces `path` at once, on an
    exception it is removed and `path` is untouched."""
    path = pathlib.Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp',
                                             dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(descriptor, 0o666 & ~umask)   # as open() would make it, not mkstemp's 0600
    try:
        with os.fdopen(descriptor, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_text_atomically(path, text):
    """`path.write_text(text)`, crash-safe."""
    with replace_atomically(path, 'w') as f:
        f.write(text)


def write_json(path, data, **dump_options):
    """Write a JSON report (figures, metadata) crash-safely: readers see the old file or the
    new one, never half of one. dump_options go to json.dump (default indent=1)."""
    import json

    write_text_atomically(path, json.dumps(data, **{'indent': 1, **dump_options}))

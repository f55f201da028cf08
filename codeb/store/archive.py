"""A tenant's folder as one zip file: the export taken before a tenant is removed.

Everything a tenant has lives in its folder (DESIGN: data), so the folder is the
export, restored by unpacking it into a data root. Lock files and temporary files
are left out. The zip is written beside its target under a temporary name and
renamed into place once complete and fsynced: a killed export leaves no file that
looks like a whole one.
"""

import os
import zipfile

from . import files

SKIPPED_FOLDERS = frozenset({".locks"})


def export_tree(folder: str, target: str, *, top: str) -> dict:
    """Write every file below `folder` into the zip `target`, under `top/`; return what it holds."""
    count = size = 0
    tmp = files.temp_name(target)
    try:
        with files.room_for_writes():
            with zipfile.ZipFile(tmp, "x", compression=zipfile.ZIP_DEFLATED) as archive:
                for where, subfolders, names_ in os.walk(folder):
                    subfolders[:] = sorted(d for d in subfolders
                                           if d not in SKIPPED_FOLDERS and not d.startswith(".removing-"))
                    for name in sorted(names_):
                        if files.is_temp(name):
                            continue
                        path = os.path.join(where, name)
                        archive.write(path, arcname="/".join((top, os.path.relpath(path, folder).replace(os.sep, "/"))))
                        count += 1
                        size += os.path.getsize(path)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            files.replace(tmp, os.path.abspath(target))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"files": count, "bytes": size, "path": os.path.abspath(target)}

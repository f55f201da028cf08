"""Module scripts with their imports preloaded.

A page's module script imports others (`static/js/office.js` → `office/oidc.js` →
`lib/base64url.js`), and the browser learns of each import only when it has the importing
file: one round trip per level. `module_script("js/office.js")` writes the script tag and a
`<link rel="modulepreload">` for every module it imports, directly or not, so the browser
asks for all of them at once with the page. The import graph is read from the files once
per process (a deployment replaces the files and recycles the processes).
"""

import posixpath
import re
from functools import cache
from pathlib import Path

from flask import current_app, url_for
from markupsafe import Markup

# Static imports of our own modules: `import … from "./x.js"`, `import "./x.js"`, `export … from "./x.js"`.
IMPORT = re.compile(r"""^\s*(?:import|export)\s+(?:[^;"']*?\s+from\s+)?["'](\.{1,2}/[^"']+)["']""", re.M)


@cache
def imports_of(static_folder: str, name: str) -> tuple[str, ...]:
    """Every module `name` (a path under the static folder) imports, directly or not, in the
    order found (depth first), each once; read from the files at the first call only."""
    name = posixpath.normpath(name)
    found: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop()
        source = (Path(static_folder) / current).read_text(encoding="utf-8")
        for relative in IMPORT.findall(source):
            module = posixpath.normpath(posixpath.join(posixpath.dirname(current), relative))
            if module != name and module not in found:
                found.append(module)
                pending.append(module)
    return tuple(found)


def module_script(name: str) -> Markup:
    """The page's `<script type="module">` for `name`, after a modulepreload of each import."""
    tags = [Markup('<link rel="modulepreload" href="{}">').format(url_for("static", filename=module))
            for module in imports_of(current_app.static_folder or "", name)]
    tags.append(Markup('<script type="module" src="{}"></script>').format(url_for("static", filename=name)))
    return Markup("\n").join(tags)

"""A page's module script comes with a modulepreload of every module it imports, so the
browser fetches them together instead of one round trip per level of imports."""

import re
from pathlib import Path

from codeb.web.scripts import imports_of
from tests.support.web import HOST, sign_in

STATIC = Path(__file__).resolve().parents[2] / "static"
PRELOAD = re.compile(r'<link rel="modulepreload" href="/static/([^"]+)">')
SCRIPT = re.compile(r'<script type="module" src="/static/([^"]+)"></script>')


def test_the_import_graph_is_every_static_import_followed_to_its_end(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "main.js").write_text('import { a } from "./lib/a.js";\nimport "./side.js";\n'
                                      'export { b } from "./lib/b.js";\nconst later = import("./lazy.js");\n')
    (tmp_path / "lib" / "a.js").write_text('import { c } from "../lib/c.js";\nimport { main } from "../main.js";\n')
    (tmp_path / "lib" / "b.js").write_text('import {\n  c,\n} from "./c.js";\n')
    (tmp_path / "lib" / "c.js").write_text("export const c = 1;\n")
    (tmp_path / "side.js").write_text("// import nothing from \"./not-an-import.js\"\n")
    found = imports_of(str(tmp_path), "main.js")
    # Static imports only (a dynamic import() loads when it is asked for), each once, a cycle back
    # to the page's own script ignored.
    assert sorted(found) == ["lib/a.js", "lib/b.js", "lib/c.js", "side.js"]


def test_the_office_shell_preloads_its_whole_import_graph(client):
    html = client.get("/office.html", headers={"Host": HOST}).text
    assert SCRIPT.findall(html) == ["js/office.js"]
    preloaded = PRELOAD.findall(html)
    assert set(preloaded) == set(imports_of(str(STATIC), "js/office.js"))
    assert {"js/office/oidc.js", "js/office/messages.js", "js/lib/base64url.js"} <= set(preloaded)
    assert html.index("modulepreload") < html.index('<script type="module"')


def test_every_module_script_of_every_page_comes_with_its_preloads(client, mailbox):
    pages = [client.get(path, headers={"Host": HOST}).text for path in ("/signin", "/office.html")]
    sign_in(client, mailbox, "nora@example.com", confirm_profile=False)
    pages += [client.get(path, headers={"Host": HOST}).text for path in ("/welcome/passkey", "/account/sign-in")]
    scripts = 0
    for html in pages:
        preloaded = set(PRELOAD.findall(html))
        for script in SCRIPT.findall(html):
            scripts += 1
            assert set(imports_of(str(STATIC), script)) <= preloaded, script
    assert scripts >= 4

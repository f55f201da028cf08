"""The boundaries DESIGN promises, held by reading the source.

- The store is the only code that touches files (DESIGN: "the only code that
  touches App_Data"): no `open`, no `os` file calls, no `shutil` outside codeb/store.
- Every folder, index and record kind has its name in `codeb.store.layout`:
  no string literal names one anywhere else.
- Account documents are read and changed only inside codeb/accounts: everyone
  else uses an `Account` property or an `Accounts` method.
"""

import ast
import re

import pytest

from tests.support.codebase import ROOT, calls, dotted, modules

FILE_CALLS = re.compile(
    r"(?:^|\.)(?:open|fsync|listdir|scandir|walk|stat|lstat|replace|rename|renames|remove|unlink|makedirs|mkdir|"
    r"rmdir|removedirs|utime|link|symlink|chmod|truncate|read_text|write_text|read_bytes|write_bytes|"
    r"exists|isfile|isdir|getsize|getmtime|rmtree|copy|copy2|copyfile|copytree|move)$")
FILE_MODULES = ("os.", "os.path.", "shutil.", "io.", "pathlib.", "tempfile.")
# Reads of the package's own files, which are not App_Data.
PACKAGE_DATA = {
    "codeb/i18n/__init__.py": "its catalogues ship inside the package (importlib.resources)",
}
STORE_METHODS = {"read", "write", "update", "create", "delete", "exists", "list", "folder", "lock", "stamp",
                 "folder_stamp", "usage", "remove_tree", "doc_path", "index", "transient", "counter", "log"}


def outside_store():
    return [m for m in modules().values() if not m.name.startswith("codeb.store")]


def file_calls(module) -> list[str]:
    found = []
    for name, node in calls(module.tree):
        builtin_open = name == "open"
        from_a_file_module = name.startswith(FILE_MODULES) and FILE_CALLS.search(name)
        resource = name.endswith((".read_text", ".read_bytes")) and "joinpath" in name
        if builtin_open or from_a_file_module or resource:
            found.append(f"{module.rel}:{node.lineno} {name}")
    return found


def test_only_the_store_touches_files():
    found = [call for m in outside_store() if m.rel not in PACKAGE_DATA for call in file_calls(m)]
    assert found == []


def test_the_file_call_finder_finds_file_calls():
    tree = ast.parse("import os, shutil\nopen('x')\nos.replace('a', 'b')\nos.path.exists('y')\n"
                     "shutil.rmtree('z')\nos.environ.get('A')\nos.path.join('a', 'b')\n")
    module = type("M", (), {"tree": tree, "rel": "probe.py"})
    assert [c.split(" ")[1] for c in file_calls(module)] == ["open", "os.replace", "os.path.exists",
                                                             "shutil.rmtree"]


@pytest.mark.parametrize("rel", sorted(PACKAGE_DATA))
def test_package_data_readers_read_only_package_data(rel):
    module = next(m for m in modules().values() if m.rel == rel)
    assert all("resources" in call or "joinpath" in call for call in file_calls(module))


def _literal_store_names(module) -> list[str]:
    found = []
    for name, node in calls(module.tree):
        method = name.rsplit(".", 1)[-1]
        receiver = name.rsplit(".", 1)[0] if "." in name else ""
        if method in STORE_METHODS and ("store" in receiver.split(".")[-1] or method in
                                        ("index", "transient", "counter", "log")):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(f"{module.rel}:{node.lineno} {name}({arg.value!r})")
    return found


def test_record_kinds_and_folders_are_named_only_in_the_layout():
    found = [hit for m in outside_store() for hit in _literal_store_names(m)]
    assert found == []


def test_the_layout_names_each_kind_once():
    from codeb.store import layout

    values = [v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values)), sorted(values)


ACCOUNT_DOC = re.compile(r"\b(?:account|user|g\.account)\.doc\b|\baccounts\.update\(")


def test_account_documents_are_touched_only_in_accounts():
    found = []
    for module in modules().values():
        if module.name.startswith("codeb.accounts"):
            continue
        for number, line in enumerate(module.path.read_text().splitlines(), 1):
            if ACCOUNT_DOC.search(line):
                found.append(f"{module.rel}:{number}: {line.strip()}")
    assert found == []


def test_templates_read_accounts_through_their_properties():
    found = [f"{path.relative_to(ROOT)}: {line.strip()}"
             for path in sorted((ROOT / "templates").rglob("*.html"))
             for line in path.read_text().splitlines() if re.search(r"\b(?:account|user)\.doc\b", line)]
    assert found == []


def test_dotted_names_read_as_written():
    assert dotted(ast.parse("a.b.c(1)").body[0].value.func) == "a.b.c"


def test_the_literal_finder_finds_literals():
    tree = ast.parse("store.transient('codes')\nself.store.read('users', x)\nstore.read(layout.USERS, x)\n"
                     "ctx.store.counter('hits')\nself.records.get('x')\n")
    module = type("M", (), {"tree": tree, "rel": "probe.py"})
    assert [hit.split(" ", 1)[1] for hit in _literal_store_names(module)] == [
        "store.transient('codes')", "self.store.read('users')", "ctx.store.counter('hits')"]

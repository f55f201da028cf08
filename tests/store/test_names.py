"""Names that may become part of a path (DESIGN invariant 2): codeb/store/names.py.

A tenant name, a login or a store segment is checked against a strict pattern
before it is joined to a path; anything else raises InvalidName, whose English
text names the value and the rule. The Store applies the check to every
segment before it touches the disk.
"""

import os

import pytest

from codeb.errors import InvalidName
from codeb.store import Store, names

VALID_TENANTS = ["a", "0", "acme", "demo", "acme-2", "a-b-c", "xn--mnchen-3ya", "1st", "a" * 63]
VALID_LOGINS = ["a", "7", "alice", "alice2", "alice.smith", "a-b_c", "a.b.c", "jorg.muller", "a" * 64,
                "a" + ".b" * 31]

# Refused everywhere: traversal, separators, drive letters, control characters,
# leading/trailing punctuation, uppercase, empty, look-alikes.
COMMON_BAD = [
    "../x", "..", ".", "a/b", "a\\b", "/a", "\\a", "C:x", "c:", "c:\\x", "a\x00b", "\x00",
    "a\tb", "a\nb", "alice\n", "\r", "a\x1fb", "a\x7fb", "a b", " a", "a ", "",
    "Alice", "ACME", "aLice",
    ".a", "a.", "-a", "a-", ".alice", "alice.", "-alice", "alice-",
    "ä", "jörg", "\u0430lice",  # Cyrillic a
    "ａｌｉｃｅ",  # full-width
    "a\u200bb", "a%2fb", "a*b", "a?b", "a<b", "a|b", 'a"b', "a:b", "~a",
]
NOT_STRINGS = [None, 1, 1.5, b"alice", ["alice"], ("alice",), {"a": 1}, object()]
RESERVED = ["con", "prn", "aux", "nul", "com1", "com9", "lpt1", "lpt9", "con.json", "nul.txt",
            "com1.x", "lpt9.json"]


@pytest.mark.parametrize("value", VALID_TENANTS)
def test_valid_tenant_names_are_accepted(value):
    assert names.tenant_name(value) == value


@pytest.mark.parametrize("value", VALID_LOGINS)
def test_valid_logins_are_accepted(value):
    assert names.login_name(value) == value


def _refused(check, value, kind):
    with pytest.raises(InvalidName) as info:
        check(value)
    error = info.value
    assert error.message_id == f"error.invalid_name.{kind}"
    assert error.status == 400
    return str(error)


@pytest.mark.parametrize("value", COMMON_BAD + ["a..b", "a_b", "a.b", "a" * 64, "a" * 65, "a" * 300])
def test_bad_tenant_names_are_refused_with_the_rule(value):
    text = _refused(names.tenant_name, value, "tenant")
    assert repr(value)[:60] in text, f"the message must name the value: {text!r}"
    assert "not a valid tenant name" in text
    assert "lowercase letters, digits and hyphens" in text, f"the message must state the rule: {text!r}"
    assert "1 to 63" in text


@pytest.mark.parametrize("value", COMMON_BAD + ["a..b", "a__b", "a._b", "a" * 65, "a" * 300, "_a", "a_"])
def test_bad_logins_are_refused_with_the_rule(value):
    text = _refused(names.login_name, value, "login")
    assert repr(value)[:60] in text, f"the message must name the value: {text!r}"
    assert "not a valid login" in text
    assert "up to 64 lowercase letters and digits" in text, f"the message must state the rule: {text!r}"


def test_length_limits_are_exact():
    assert names.login_name("a" * 64)
    assert names.tenant_name("a" * 63)
    with pytest.raises(InvalidName):
        names.login_name("a" * 65)
    with pytest.raises(InvalidName):
        names.tenant_name("a" * 64)


@pytest.mark.parametrize("value", NOT_STRINGS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("check", [names.tenant_name, names.login_name, names.segment],
                         ids=["tenant", "login", "segment"])
def test_non_strings_are_refused(check, value):
    with pytest.raises(InvalidName) as info:
        check(value)
    assert repr(value)[:40] in str(info.value)


@pytest.mark.parametrize("value", RESERVED + [r.upper() for r in RESERVED if "." not in r] + ["Con.json"])
@pytest.mark.parametrize("check", [names.tenant_name, names.login_name, names.segment],
                         ids=["tenant", "login", "segment"])
def test_windows_reserved_names_are_refused(check, value):
    with pytest.raises(InvalidName):
        check(value)


def test_reserved_name_message_says_why():
    # `con` matches the stated rule (lowercase letters), so a message that only
    # repeats the rule tells the person nothing: it must say the name is reserved.
    unclear = []
    for check, kind in [(names.tenant_name, "tenant"), (names.login_name, "login")]:
        for value in ["con", "aux", "nul", "com1", "lpt9"]:
            with pytest.raises(InvalidName) as info:
                check(value)
            text = str(info.value)
            assert repr(value) in text
            if "reserve" not in text.lower():
                unclear.append(f"{kind} {value!r}: {text!r}")
    assert not unclear, (
        "BUG (codeb/store/names.py + i18n): Windows-reserved names are refused with a message that only "
        "repeats a rule the value satisfies, so the person cannot tell why:\n" + "\n".join(unclear))


def test_names_that_merely_start_like_reserved_ones_are_fine():
    for value in ["cons", "console", "auxiliary", "nullable", "com10", "lpt10", "comet", "contoso"]:
        assert names.tenant_name(value) == value
        assert names.login_name(value) == value


@pytest.mark.parametrize("value", ["users", "index", "transient", "a1b2", "ABC", "Abc_1.x-y",
                                   "_private", "0" * 40, "2024-05", "x" * 128])
def test_valid_segments_are_accepted(value):
    assert names.segment(value) == value


@pytest.mark.parametrize("value", [v for v in COMMON_BAD if v not in
                                   ("Alice", "ACME", "aLice", "a.", "alice.", "a-", "alice-")]
                         + ["a..b", "x" * 129, "~a.json.abc.tmp"])
def test_bad_segments_are_refused(value):
    text = _refused(names.segment, value, "segment")
    assert repr(value)[:60] in text


# -- the Store checks every segment before it touches the disk --------------------


def _tree(root):
    """Every path under `root` (folders and files), relative."""
    found = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


BAD_SEGMENTS = ["../x", "..", ".", "a/b", "a\\b", "C:x", "c:", "a\x00b", "a\nb", "",
                "con", "con.json", "../../outside", "..\\..\\outside", "/etc/passwd", "x" * 200, None, 5]

DOCUMENT_CALLS = {
    "read": lambda s, bad: s.read("users", bad),
    "read-folder": lambda s, bad: s.read(bad, "alice"),
    "write": lambda s, bad: s.write("users", bad, doc={"x": 1}),
    "write-folder": lambda s, bad: s.write(bad, "alice", doc={"x": 1}),
    "create": lambda s, bad: s.create("users", bad, doc={"x": 1}),
    "delete": lambda s, bad: s.delete("users", bad),
    "exists": lambda s, bad: s.exists("users", bad),
    "list": lambda s, bad: s.list(bad),
    "list-nested": lambda s, bad: s.list("users", bad),
    "doc_path": lambda s, bad: s.doc_path("users", bad),
    "folder": lambda s, bad: s.folder(bad),
    "transient-kind": lambda s, bad: s.transient(bad),
    "transient-put": lambda s, bad: s.transient("codes").put(bad, {"x": 1}, ttl=60),
    "transient-get": lambda s, bad: s.transient("codes").get(bad),
    "transient-take": lambda s, bad: s.transient("codes").take(bad),
}


@pytest.fixture
def sandbox(tmp_path):
    """A store whose root sits two levels deep, so `..` would land inside tmp_path."""
    root = tmp_path / "outer" / "tenant"
    root.mkdir(parents=True)
    (tmp_path / "outer" / "sibling").mkdir()
    return Store(str(root)), tmp_path


@pytest.mark.parametrize("bad", BAD_SEGMENTS, ids=repr)
@pytest.mark.parametrize("call", list(DOCUMENT_CALLS), ids=str)
def test_store_refuses_bad_segments_before_touching_the_disk(sandbox, call, bad):
    store, top = sandbox
    before = _tree(top)
    with pytest.raises(InvalidName):
        DOCUMENT_CALLS[call](store, bad)
    assert _tree(top) == before, f"{call}({bad!r}) created {_tree(top) - before}"


def test_locking_calls_refuse_bad_segments_before_touching_the_disk(sandbox):
    store, top = sandbox
    calls = {
        "update": lambda bad: store.update("users", bad),
        "update(default=...)": lambda bad: store.update("users", bad, default={"n": 0}),
        "lock": lambda bad: store.lock("users", bad),
        "transient.update": lambda bad: store.transient("codes").update(bad),
        "transient.lock": lambda bad: store.transient("codes").lock(bad),
    }
    problems = []
    for name, call in calls.items():
        for bad in ["../x", "..", "a/b", "C:x", "a\x00b", "con"]:
            before = _tree(top)
            try:
                with call(bad):
                    pass
                problems.append(f"{name}({bad!r}) did not raise InvalidName")
            except InvalidName:
                pass
            created = _tree(top) - before
            assert all(not path.startswith("..") for path in created)
            if created:
                problems.append(f"{name}({bad!r}) created {sorted(created)}")
    assert not problems, (
        "BUG (codeb/store/__init__.py Store._lock_path): locks are taken on unvalidated segments, so "
        "lock() accepts any name and update() creates a lock file before it refuses the name:\n"
        + "\n".join(problems))


def test_nothing_escapes_the_root_through_any_call(sandbox):
    store, top = sandbox
    for call in DOCUMENT_CALLS.values():
        for bad in BAD_SEGMENTS:
            try:
                call(store, bad)
            except InvalidName:
                pass
    assert not (top / "outer" / "x.json").exists()
    assert not (top / "outer" / "x").exists()
    assert os.listdir(top / "outer" / "sibling") == []
    assert sorted(os.listdir(top)) == ["outer"]
    assert sorted(os.listdir(top / "outer")) == ["sibling", "tenant"]


def test_valid_names_do_reach_the_disk(sandbox):
    store, _ = sandbox
    store.write("users", names.login_name("alice.smith"), doc={"x": 1})
    assert os.path.isfile(os.path.join(store.root, "users", "alice.smith.json"))

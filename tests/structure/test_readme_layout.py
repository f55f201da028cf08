"""README's layout table names every package and top-level module of codeb, and no ghost."""

import re

from tests.support.codebase import PACKAGE, ROOT


def named_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):text.index("## Benchmarks")]
    return {m.rstrip("/") for m in re.findall(r"`(codeb/[a-z0-9_]+(?:\.py|/)?)`", layout)}


def actual() -> set[str]:
    found = set()
    for entry in PACKAGE.iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        if (entry.is_dir() and (entry / "__init__.py").exists()) or entry.suffix == ".py":
            found.add(f"codeb/{entry.name}")
    return found


def test_every_package_and_top_level_module_is_in_the_layout_table():
    assert actual() - named_in_readme() == set()


def test_the_layout_table_names_nothing_that_is_gone():
    assert named_in_readme() - actual() == set()

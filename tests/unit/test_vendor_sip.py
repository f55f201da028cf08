"""static/js/vendor/sip.js, the SIP.js the shell's phone card loads, is what tests/node/build-sip.mjs
makes from the sip.js package at the version pinned in tests/node/package.json: built again here
into a temporary file, byte for byte the committed one, with its version and MIT licence on top."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
VENDORED = ROOT / "static" / "js" / "vendor" / "sip.js"


def pinned(package: str) -> str:
    version = json.loads((NODE_DIR / "package.json").read_text())["dependencies"][package]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package} must be pinned exactly, not {version!r}"
    return version


def test_the_vendored_file_names_the_pinned_version_and_carries_the_licence():
    head = VENDORED.read_text(encoding="utf-8")[:2000]
    assert head.startswith(f"/*! SIP.js {pinned('sip.js')} (npm package sip.js")
    assert f"esbuild {pinned('esbuild')}" in head
    assert "MIT License" in head and "Copyright (c) 2020 Junction Networks" in head


def test_the_vendored_file_is_what_the_pinned_package_builds_to(tmp_path):
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "sip.js").is_dir():
        pytest.fail("node and tests/node/node_modules are needed: run `make test` (it runs `npm ci`).")
    installed = json.loads((NODE_DIR / "node_modules" / "sip.js" / "package.json").read_text())["version"]
    assert installed == pinned("sip.js"), "tests/node/node_modules is not what package.json pins: `make node-deps`"
    built = tmp_path / "sip.js"
    subprocess.run([node, str(NODE_DIR / "build-sip.mjs"), str(built)], check=True, timeout=120, cwd=ROOT)
    assert built.read_bytes() == VENDORED.read_bytes(), "static/js/vendor/sip.js is stale: run `make vendor`"


def test_it_exports_what_the_phone_card_imports():
    exports = re.search(r"export\{([^}]*)\};?\s*$", VENDORED.read_text(encoding="utf-8"))
    assert exports is not None
    names = {part.split(" as ")[-1].strip() for part in exports.group(1).split(",")}
    card = (ROOT / "static" / "js" / "office" / "phone.js").read_text()
    used = set(re.findall(r"\bsip\.([A-Z][A-Za-z]+)", card))
    assert used and used <= names, used - names

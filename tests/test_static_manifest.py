"""The production static storage hashes ES modules *and* the names they import, so a browser
never runs a new `app.<hash>.js` against an old cached `messages.js` after a deploy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from minimax_web.storage import ModuleManifestStaticFilesStorage

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_STORAGE = "minimax_web.storage.ModuleManifestStaticFilesStorage"

# Every static form of a module specifier: `import x from "…"`, `export … from "…"`,
# `import "…"`, and dynamic `import("…")` (which Django's rewriting handles only for literals).
SPECIFIER = re.compile(
    r"""\b(?:import|export)\b[^;'"]*?\bfrom\s*["'](?P<a>[^"']+)["']"""
    r"""|\bimport\s*["'](?P<b>[^"']+)["']"""
    r"""|\bimport\(\s*["'](?P<c>[^"']+)["']\s*\)"""
)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


def specifiers(source: str) -> list[str]:
    return [m["a"] or m["b"] or m["c"] for m in SPECIFIER.finditer(source)]


@pytest.fixture
def collected(settings, tmp_path) -> tuple[Path, dict[str, str]]:
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": PRODUCTION_STORAGE},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    return tmp_path, manifest


def test_production_settings_use_the_module_aware_storage():
    env = {**os.environ, "DJANGO_DEBUG": "false", "DJANGO_PLAIN_STATIC": "false"}
    code = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "minimax_web.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == PRODUCTION_STORAGE
    assert ModuleManifestStaticFilesStorage.support_js_module_import_aggregation


def test_every_import_of_a_collected_chat_module_names_an_existing_hashed_file(collected):
    root, manifest = collected
    modules = {name: hashed for name, hashed in manifest.items() if name.startswith("chat/")}
    modules = {name: hashed for name, hashed in modules.items() if name.endswith(".js")}
    assert "chat/app.js" in modules

    seen = 0
    for hashed in modules.values():
        path = root / hashed
        for spec in specifiers(path.read_text()):
            seen += 1
            target = (path.parent / spec).resolve()
            assert HASHED.search(spec), f"{hashed} imports the unhashed {spec!r}"
            assert target.is_file(), f"{hashed} imports {spec!r}, which was not collected"
            assert str(target.relative_to(root.resolve())) in manifest.values()
    # app → messages, socket; messages → markdown, thinking: the check is not vacuous.
    assert seen >= 4


def test_the_specifier_pattern_finds_each_form_of_import():
    source = (
        'import { A } from "./a.js";\n'
        "import * as b from './b.js';\n"
        'export { c } from "./c.js";\n'
        'import "./d.js";\n'
        'const e = await import("./e.js");\n'
        "document.importNode(template.content, true);\n"
    )
    assert specifiers(source) == ["./a.js", "./b.js", "./c.js", "./d.js", "./e.js"]


def test_vendor_scripts_are_collected_unchanged(collected):
    # The import rewriting scans every .js file; minified vendor code must come out intact.
    root, manifest = collected
    vendor = [name for name in manifest if name.startswith("vendor/") and name.endswith(".js")]
    assert vendor
    for name in vendor:
        assert (root / manifest[name]).read_bytes() == (REPO / "static" / name).read_bytes()

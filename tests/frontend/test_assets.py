"""Pages stay light: all our own JS and CSS together (a superset of what any
one page loads) is under the 200 KB budget, and no page loads from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import frontend

APP = Path(frontend.__file__).parent
BUDGET = 200 * 1024


def test_own_js_and_css_fit_the_budget():
    files = [p for p in (APP / "static").rglob("*") if p.suffix in (".js", ".css")]
    assert len(files) >= 4
    total = sum(p.stat().st_size for p in files)
    assert total < BUDGET, f"{total} bytes of JS/CSS"


def test_templates_load_nothing_from_other_hosts():
    for template in (APP / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), template.name

"""English and Simplified Chinese: every string of the front end is translated,
the compiled catalogue matches its source, and the switcher changes the UI."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

import frontend

LOCALE = Path(frontend.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries() -> dict[str, str]:
    """msgid -> msgstr (msgstr[0] for plurals) from the .po file."""
    entries: dict[str, str] = {}
    for block in LOCALE.joinpath("django.po").read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[0\])?) "(.*)"$', line)
            if match:
                current = match.group(1).replace("[0]", "")
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            # pgettext entries are keyed "context\x04msgid", as in the compiled catalogue
            key = _unescape(fields["msgid"])
            if "msgctxt" in fields:
                key = _unescape(fields["msgctxt"]) + "\x04" + key
            entries[key] = _unescape(fields.get("msgstr", ""))
    return entries


def _unescape(text: str) -> str:
    return text.encode().decode("unicode_escape").encode("latin-1").decode()


def test_every_front_end_string_has_a_chinese_translation():
    entries = _po_entries()
    assert len(entries) > 200
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr.strip()]
    assert untranslated == []
    # msgfmt leaves fuzzy entries out of the .mo: they would show in English
    assert "fuzzy" not in LOCALE.joinpath("django.po").read_text(encoding="utf-8")


def test_compiled_catalogue_matches_the_po_file():
    with LOCALE.joinpath("django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for msgid, msgstr in _po_entries().items():
        assert catalogue.gettext(msgid) == msgstr, f"stale django.mo for {msgid!r}: compilemessages"


def test_placeholders_survive_translation():
    for msgid, msgstr in _po_entries().items():
        names = re.compile(r"%\(\w+\)s")
        assert sorted(names.findall(msgid)) == sorted(names.findall(msgstr)), msgid


@pytest.mark.django_db
def test_language_switcher_turns_the_site_chinese_and_back(listing):
    client = Client()
    page = client.get("/")
    assert "Fresh listings" in page.content.decode()

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert "最新发布" in html and 'lang="zh-hans"' in html
    assert "自行车" in html and "上海" in html  # categories and known cities in Chinese too
    assert "¥1,234.50" in html  # money per locale

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Fresh listings" in client.get("/").content.decode()

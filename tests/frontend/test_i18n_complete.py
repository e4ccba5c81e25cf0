"""Nothing the front end shows stays English in the Chinese UI: strings added to
templates or views since the last makemessages, and the messages the services
raise (shown on pages when an action is refused)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

import frontend
from frontend import domain_scan
from frontend.domain_messages import MESSAGES
from frontend.errors import translate
from tests.frontend.conftest import logged_in
from tests.frontend.test_i18n import _po_entries

APP = Path(frontend.__file__).parent


def _msgids(po: Path) -> set[str]:
    from tests.frontend import test_i18n

    original = test_i18n.LOCALE
    test_i18n.LOCALE = po.parent
    try:
        return set(_po_entries())
    finally:
        test_i18n.LOCALE = original


def test_every_string_makemessages_finds_now_has_a_chinese_translation(tmp_path):
    # Extract afresh from a copy of the app (templates and Python), so a string
    # added without running makemessages fails here, not only an empty msgstr.
    if shutil.which("xgettext") is None:
        pytest.fail("makemessages needs GNU gettext: apt-get install gettext")
    copy = tmp_path / "frontend"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("locale", "static", "__pycache__"))
    (copy / "locale").mkdir()
    django_admin = Path(sys.executable).with_name("django-admin")
    subprocess.run([str(django_admin), "makemessages", "-l", "zh_Hans"], cwd=copy, check=True,
                   capture_output=True, env={"PATH": "/usr/bin:/bin"})
    fresh = _msgids(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    committed = _po_entries()

    assert len(fresh) > 300
    missing = sorted(m for m in fresh if not committed.get(m, "").strip())
    assert missing == [], "run makemessages + translate + compilemessages in frontend/"


def test_the_collected_service_messages_are_up_to_date():
    expected = domain_scan.render_module(*domain_scan.scan_all())
    current = (APP / "domain_messages.py").read_text(encoding="utf-8")
    assert current == expected, "run `python manage.py frontend_messages`, then makemessages"


def test_every_service_message_has_a_chinese_translation():
    with translation.override("zh-hans"):
        untranslated = [m for m in MESSAGES if translation.gettext(m) == m]
    assert untranslated == []


@pytest.mark.parametrize(("english", "chinese"), [
    ("No such listing.", "没有这件商品。"),
    ("At most 6 photos per party; you have 6.", "每方最多 6 张照片；您已上传 6 张。"),
    ("Finish these first: 1 open order(s) must be completed or cancelled",
     "请先处理以下事项：还有 1 个未完成的订单，需先完成或取消"),
    ("Too many failed login attempts. Try again in 60 seconds (about 1 min).",
     "登录失败次数过多。请在 60 秒（约 1 分钟）后重试。"),
    ("Something nobody wrote a translation for.", "Something nobody wrote a translation for."),
])
def test_service_messages_are_translated_exact_or_formatted(english, chinese):
    with translation.override("zh-hans"):
        assert translate(english) == chinese
    with translation.override("en"):
        assert translate(english) == english


@pytest.mark.django_db
def test_a_refused_action_shows_the_services_reason_in_chinese(listing, seller):
    client = logged_in(seller)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    response = client.post(f"/items/{listing.id}/favourite/", follow=True)

    assert "您不能收藏自己的商品。" in response.content.decode()

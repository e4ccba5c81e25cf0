"""The login-free unsubscribe link of every e-mail."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from marketplace.notifications import services
from marketplace.notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db


def _link_from_email(user, django_capture_on_commit_callbacks, kind="price_drop"):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=user, kind=kind, payload={"title": "Lamp"})
    match = re.search(
        r"http://127\.0\.0\.1:8000(/notifications/unsubscribe/\S+)", mail.outbox[-1].body
    )
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_get_shows_a_confirmation_form_and_changes_nothing(
    alice, django_capture_on_commit_callbacks
):
    path = _link_from_email(alice, django_capture_on_commit_callbacks)
    response = Client(enforce_csrf_checks=True).get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Price drops on favourites" in body and "<form" in body
    assert not NotificationPreference.objects.filter(user=alice).exists()


def test_post_without_login_stops_that_kind_only(alice, django_capture_on_commit_callbacks):
    path = _link_from_email(alice, django_capture_on_commit_callbacks)
    response = Client(enforce_csrf_checks=True).post(path, {"scope": "kind"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    prefs = services.preferences_for(user=alice)
    assert prefs["price_drop"] == "never"
    assert prefs["chat_message"] == "immediately"

    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=alice, kind="price_drop", payload={"title": "Again"})
    assert len(mail.outbox) == 1  # no further price-drop e-mails


def test_post_all_stops_every_kind(alice, django_capture_on_commit_callbacks):
    path = _link_from_email(alice, django_capture_on_commit_callbacks)
    Client().post(path, {"scope": "all"})
    assert set(services.preferences_for(user=alice).values()) == {"never"}


def test_one_click_post_from_a_mail_client(alice, django_capture_on_commit_callbacks):
    path = _link_from_email(alice, django_capture_on_commit_callbacks, kind="chat_message")
    response = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert services.preferences_for(user=alice)["chat_message"] == "never"


def test_digest_link_unsubscribes_from_everything(alice):
    from marketplace.notifications.emails import unsubscribe_url

    url = unsubscribe_url(user=alice, kind="*")
    path = url.removeprefix("http://127.0.0.1:8000")
    assert "Stop all notification e-mails" in Client().get(path).content.decode()
    Client().post(path, {"scope": "kind"})
    assert set(services.preferences_for(user=alice).values()) == {"never"}


@pytest.mark.parametrize("token", ["garbage", "eyJ1IjoiMSJ9:1abc:tampered"])
def test_bad_token_is_a_400_page(alice, token):
    response = Client().get(f"/notifications/unsubscribe/{token}")
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert Client().post(f"/notifications/unsubscribe/{token}").status_code == 400
    assert not NotificationPreference.objects.exists()


def test_token_signed_for_another_purpose_is_refused(bob):
    from django.core import signing

    # Same secret key, another salt (as e.g. the e-mail verification link uses).
    forged = signing.dumps({"u": str(bob.pk), "k": "price_drop"}, salt="accounts.other")
    assert Client().post(f"/notifications/unsubscribe/{forged}").status_code == 400
    assert services.preferences_for(user=bob)["price_drop"] == "immediately"


def test_chinese_user_sees_chinese_page_text_in_email(django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    wang = UserFactory(languages=["zh-Hans"])
    _link_from_email(wang, django_capture_on_commit_callbacks)
    assert "不再接收此类邮件" in mail.outbox[-1].body


def test_page_speaks_the_recipients_language():
    from tests.factories import UserFactory

    wang = UserFactory(languages=["zh-Hans"])
    token = services.unsubscribe_token(user=wang, kind="price_drop")
    body = Client().get(f"/notifications/unsubscribe/{token}").content.decode()
    assert "退订邮件" in body and "停止发送“收藏商品降价”邮件" in body
    assert 'lang="zh-hans"' in body

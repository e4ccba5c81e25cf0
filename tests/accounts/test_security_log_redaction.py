"""Logs never contain passwords, tokens, secrets or full phone numbers."""

from __future__ import annotations

import logging

import pytest

from marketplace.logredact import redact

SECRETS = [
    "hunter2-Password",
    "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
    "sk_live_abcdef123456",
    "s3ss10nk3yv4lu3",
    "13812345678",
    "8613812345678",
]


def test_logging_a_request_dict_leaks_nothing(caplog):
    request = {
        "path": "/api/auth/token",
        "body": {"username": "mei", "password": "hunter2-Password"},
        "headers": {
            "Authorization": "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
            "Cookie": "sessionid=s3ss10nk3yv4lu3; csrftoken=abc",
        },
        "client_secret": "sk_live_abcdef123456",
        "phone": "+86 138 1234 5678",
        "note": "call me on 13812345678",
    }
    logger = logging.getLogger("marketplace.tests.redaction")

    with caplog.at_level(logging.INFO):
        logger.info("incoming request %s", request)
        logger.warning("GET /api/search?q=bike&token=9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
        logger.error('{"password": "hunter2-Password", "phone": "+8613812345678"}')

    text = caplog.text
    assert "incoming request" in text and "mei" in text and "/api/auth/token" in text
    for secret in SECRETS:
        assert secret not in text
    assert "+** *** **** **78" in text  # the last two digits help recognise the number
    assert "+***********78" in text
    assert "[REDACTED]" in text


def test_exception_tracebacks_are_redacted_too(caplog):
    logger = logging.getLogger("marketplace.tests.redaction")
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("bad login password=hunter2-Password")
        except ValueError:
            logger.exception("login failed")

    assert "hunter2-Password" not in caplog.text
    assert "login failed" in caplog.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("password=abc&user=x", "password=[REDACTED]&user=x"),
        ("{'new_password': 'x y z'}", "{'new_password': '[REDACTED]'}"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: [REDACTED]"),
        ("order 2026-11-22 12:00:00 id 42", "order 2026-11-22 12:00:00 id 42"),
        ("price 100000 minor", "price 100000 minor"),
        ("sent Token abcdef123456 to app", "sent Token [REDACTED] to app"),
        ("'recovery_codes': ['ab12c-de34f', 'x']", "'recovery_codes': [REDACTED]"),
    ],
)
def test_redact_examples(raw, expected):
    assert redact(raw) == expected

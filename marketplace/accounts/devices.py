"""Who is logging in from where: a short device label from the User-Agent, an
approximate place from the IP (built-in table only, nothing downloaded), and
the long-lived device id that marks a browser or app as known."""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any

DEVICE_COOKIE = "mkt_device"
DEVICE_HEADER = "HTTP_X_DEVICE_ID"
_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("WeChat", re.compile(r"MicroMessenger/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/")),
    ("Safari", re.compile(r"Safari/")),
    ("curl", re.compile(r"^curl/")),
    ("Python", re.compile(r"python-requests|python-urllib|aiohttp|httpx", re.I)),
]
_SYSTEMS = [
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
]


def device_label(user_agent: str) -> str:
    """'Firefox on Windows', 'Safari on iPhone', 'Unknown device'."""
    ua = user_agent or ""
    browser = next((name for name, rx in _BROWSERS if rx.search(ua)), None)
    system = next((name for name, rx in _SYSTEMS if rx.search(ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or ("Unknown device" if not ua else ua[:40])


# A tiny built-in table; anything else is "unknown" (no GeoIP database is
# downloaded). An operator can extend it through a proper GeoIP lookup later.
_PLACES = [
    (ipaddress.ip_network("127.0.0.0/8"), "this computer"),
    (ipaddress.ip_network("::1/128"), "this computer"),
    (ipaddress.ip_network("10.0.0.0/8"), "private network"),
    (ipaddress.ip_network("172.16.0.0/12"), "private network"),
    (ipaddress.ip_network("192.168.0.0/16"), "private network"),
    (ipaddress.ip_network("fc00::/7"), "private network"),
    (ipaddress.ip_network("100.64.0.0/10"), "carrier network"),
]


def approximate_place(ip: str | None) -> str:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    for network, name in _PLACES:
        if address.version == network.version and address in network:
            return name
    return "unknown"


def client_ip(meta: dict[str, Any]) -> str | None:
    """REMOTE_ADDR as the server saw it. A reverse proxy sets it right through
    its own config (e.g. uvicorn/gunicorn --forwarded-allow-ips); trusting a
    client-sent X-Forwarded-For here would let attackers dodge IP throttling."""
    value = meta.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def device_id_from(request: Any) -> str:
    """The device id the client sent (cookie for browsers, X-Device-Id for apps)."""
    value = request.COOKIES.get(DEVICE_COOKIE) or request.META.get(DEVICE_HEADER) or ""
    return value if _DEVICE_ID_RE.match(value) else ""


def new_device_id() -> str:
    return secrets.token_urlsafe(24)

"""Domain error messages in the viewer's language.

Services raise English messages (the API's contract, see marketplace/errors.py).
A page shows them translated: an exact message is looked up in the catalogue;
a formatted one ("At most 5 photos per party; you have 5.") is matched against
the templates collected from the services (frontend/domain_messages.py, made by
`manage.py frontend_messages`) and its values put into the translated template.
An unknown message is shown as it is.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext

from marketplace.errors import DomainError, ValidationFailed

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    from frontend.domain_messages import MESSAGES

    out = []
    for template in MESSAGES:
        if "%(" not in template:
            continue
        pieces, last = [], 0
        for match in _PLACEHOLDER.finditer(template):
            pieces.append(re.escape(template[last:match.start()].replace("%%", "%")))
            pieces.append(f"(?P<{match.group(1)}>.+?)")
            last = match.end()
        pieces.append(re.escape(template[last:].replace("%%", "%")))
        out.append((re.compile("".join(pieces), re.DOTALL), template))
    # The most specific template wins: the longest literal start first ("Finish
    # these first: %(detail)s" before "%(open_orders)s open order(s)..." when the
    # detail is such a message), then the most literal text.
    out.sort(key=lambda item: (-item[1].find("%("), -len(_PLACEHOLDER.sub("", item[1]))))
    return out


def translate(message: str) -> str:
    """`message` in the active language when the catalogue knows it."""
    message = str(message)
    if not message:
        return message
    translated = gettext(message)
    if translated != message:
        return translated
    for pattern, template in _patterns():
        found = pattern.fullmatch(message)
        if found:
            translated = gettext(template)
            if translated == template:
                return message
            return translated % {k: translate(v) for k, v in found.groupdict().items()}
    return message


def error_text(exc: DomainError) -> str:
    """What a page shows for a refused action: every field message, translated."""
    if isinstance(exc, ValidationFailed):
        return "; ".join(translate(m) for msgs in exc.fields.values() for m in msgs)
    return translate(exc.message)

"""ASGI entry point: HTTP and websockets. Daphne serves it.

Websockets pass the allowed-hosts origin check, then session or `?token=`
authentication, then the URL router. Each app contributes its websocket
routes here (this file is wiring, allowed to name every app).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402
from marketplace.consumers import WhoAmIConsumer  # noqa: E402
from marketplace.notifications.consumers import NotificationsConsumer  # noqa: E402
from marketplace.ws_auth import AuthStack  # noqa: E402

websocket_urlpatterns = [
    path("ws/whoami/", WhoAmIConsumer.as_asgi()),
    path("ws/chat/<str:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthStack(URLRouter(websocket_urlpatterns))),
    }
)

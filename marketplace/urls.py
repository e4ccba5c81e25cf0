"""URL wiring: the only place (with asgi.py and celery.py) that names every app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from frontend import views_dashboards
from marketplace import views

api_patterns = [
    # Listings first: the listing detail is the hottest route, and Django tries
    # patterns in order (no two apps share a path).
    path("", include("listings.urls")),
    path("", include("marketplace.accounts.urls")),
    path("", include("marketplace.notifications.urls")),
    path("", include("search.urls")),
    path("", include("chat.urls")),
    path("", include("trust.urls")),
    path("", include("moderation.urls")),
    # Dashboards compose several apps' selectors, so they live in the top layer.
    path("me/dashboard", views_dashboards.SellerDashboardView.as_view(), name="me-dashboard"),
    path("ops/dashboard", views_dashboards.OpsDashboardView.as_view(), name="ops-dashboard"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/", include(api_patterns)),
    path("notifications/", include("marketplace.notifications.web_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("frontend.urls")),
]

if settings.SERVE_MEDIA:
    # Embedded mode: one Daphne process serves uploads too. Production puts
    # media on S3 (or behind a web server) and turns this off.
    urlpatterns.append(
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )

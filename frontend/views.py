"""Server-rendered pages. Presentation only: every write goes through a service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from frontend.forms import RegisterForm
from marketplace.accounts import services as account_services
from marketplace.errors import ValidationFailed


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/home.html", {})


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("frontend:home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.user_register(**form.cleaned_data)
        except ValidationFailed as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome! We sent a confirmation link to %(email)s.") % {"email": user.email},
            )
            return redirect("frontend:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/register.html", {"form": form}, status=status)


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        account_services.email_verify(token=token)
    except ValidationFailed as exc:
        return render(request, "frontend/verify_email.html", {"error": exc.message}, status=400)
    except Exception:  # noqa: BLE001 - an unknown user is just an invalid link here
        return render(
            request,
            "frontend/verify_email.html",
            {"error": _("This link is not valid.")},
            status=400,
        )
    return render(request, "frontend/verify_email.html", {"error": None})

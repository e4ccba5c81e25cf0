"""The web login with throttling and the two-factor second step.

The frontend's login page subclasses SecureLoginView; the second step (a TOTP
or recovery code, or enrolment for moderators) posts back to the same URL with
the challenge in a hidden field, so the pages need no extra routes.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.accounts import security
from marketplace.errors import DomainError, ValidationFailed


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(
        label=gettext_lazy("Password"), strip=False, widget=forms.PasswordInput
    )


class SecureLoginView(auth_views.LoginView):
    # The page layer names its templates (the kernel knows no front end):
    # `template_name` for the password step, this one for the second step.
    second_step_template: str = ""

    def get_form_class(self) -> type[forms.Form]:
        return LoginForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs.pop("request", None)  # LoginForm is a plain form
        return kwargs

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = security.ClientInfo.from_request(request)
        if request.POST.get("challenge"):
            return self._second_step(request, client)
        form = LoginForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        try:
            step = security.login_password_step(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                client=client,
            )
        except security.LoginLocked as exc:
            return self._locked(form, exc)
        except ValidationFailed:
            form.add_error(None, _("Please enter a correct username and password."))
            return self.render_to_response(self.get_context_data(form=form))
        if step.challenge:
            return self._render_second_step(request, step.challenge, step.enrolment_required)
        auth_login(request, step.user)
        return HttpResponseRedirect(self.get_success_url())

    def _locked(self, form: forms.Form, exc: security.LoginLocked) -> HttpResponse:
        form.add_error(None, exc.message)
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response

    def _render_second_step(
        self,
        request: HttpRequest,
        challenge: str,
        enrol: bool,
        error: str | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "challenge": challenge,
            "enrol": enrol,
            "error": error,
            "next": self.get_redirect_url(),
        }
        if enrol and error is None:
            context.update(security.login_challenge_enrol(challenge=challenge))
        return render(request, self.second_step_template, context, status=status)

    def _second_step(self, request: HttpRequest, client: security.ClientInfo) -> HttpResponse:
        challenge = request.POST.get("challenge", "")
        enrol = request.POST.get("enrol") == "1"
        try:
            user, codes = security.login_second_factor(
                challenge=challenge, code=request.POST.get("code", ""), client=client
            )
        except security.LoginLocked as exc:
            response = self._render_second_step(
                request, challenge, enrol, error=exc.message, status=429
            )
            response["Retry-After"] = str(exc.retry_after)
            return response
        except DomainError as exc:
            if getattr(exc, "code", "") == "challenge_expired":
                form = LoginForm()
                form.add_error(None, exc.message)
                return self.render_to_response(self.get_context_data(form=form), status=400)
            return self._render_second_step(
                request, challenge, enrol, error=_("That code is not valid."), status=400
            )
        auth_login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        if codes:
            return render(
                request,
                self.second_step_template,
                {"recovery_codes": codes, "next": self.get_success_url()},
            )
        return HttpResponseRedirect(self.get_success_url())

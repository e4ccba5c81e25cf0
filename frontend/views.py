"""Server-rendered pages. Presentation only: every write goes through a service,
every fetch on someone's behalf through the same access selectors as the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.serializers import message_payload
from frontend import labels
from frontend.errors import error_text, translate
from frontend.forms import (
    ListingForm,
    RegisterForm,
    ReviewForm,
    attributes_from,
    city_choices,
)
from listings import selectors as listing_selectors
from listings import services as listing_services
from marketplace.accounts import selectors as account_selectors
from marketplace.accounts import services as account_services
from marketplace.accounts.web import SecureLoginView
from marketplace.analytics.services import track
from marketplace.errors import DomainError, NotFound, ServiceUnavailable, ValidationFailed
from marketplace.money import Money
from search import selectors as search_selectors
from search.params import parse_search_params
from trust import escrow, ledger
from trust import reputation as trust_reputation
from trust import selectors as trust_selectors

View = Callable[..., HttpResponse]


def pages(view: View) -> View:
    """Domain errors on a page: "not found / not yours" is a 404 page; any other
    refusal after a POST goes back with the reason shown, never a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except DomainError as exc:
            if request.method != "POST":
                raise
            messages.error(request, _error_text(exc))
            return _back(request)

    return wrapper


def _error_text(exc: DomainError) -> str:
    return error_text(exc)  # translated for the viewer (frontend/errors.py)


def _back(request: HttpRequest, fallback: str = "frontend:home") -> HttpResponseRedirect:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback)


def _categories() -> list[Any]:
    return listing_selectors.category_list()


# --- accounts -------------------------------------------------------------------------------


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
                    form.add_error(field if field in form.fields else None, translate(error))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome! We sent a confirmation link to %(email)s.") % {"email": user.email},
            )
            return redirect("frontend:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/register.html", {"form": form}, status=status)


class LoginView(SecureLoginView):  # throttling + two-factor step (accounts/web.py)
    template_name = "frontend/login.html"
    second_step_template = "frontend/login_2fa.html"  # in the front end's catalogue
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        account_services.email_verify(token=token)
    except ValidationFailed as exc:
        return render(request, "frontend/verify_email.html", {"error": error_text(exc)},
                      status=400)
    except Exception:  # noqa: BLE001 - an unknown user is just an invalid link here
        return render(
            request,
            "frontend/verify_email.html",
            {"error": _("This link is not valid.")},
            status=400,
        )
    return render(request, "frontend/verify_email.html", {"error": None})


# --- discovery ------------------------------------------------------------------------------


NEAR_KM = 50


def _near(city: str) -> list[dict[str, Any]]:
    """The newest listings within NEAR_KM of a known city (empty without search)."""
    if city not in labels.CITIES:
        return []
    lat, lon, _zh = labels.CITIES[city]
    params = parse_search_params({"lat": lat, "lon": lon, "radius_km": NEAR_KM,
                                  "sort": "newest", "page_size": 6})
    try:
        return search_selectors.search_listings(params=params).results
    except ServiceUnavailable:
        return []


FEED_ON_HOME = 12


def _feed(request: HttpRequest, city: str) -> list[tuple[Any, Any, float | None]]:
    """The "for you" feed (search/feed.py, as GET /api/feed): a signed-in user's
    recommendations blended with fresh listings near their city; for anyone
    without history, popular and fresh listings (nearby when the city is known).
    (listing, reason label, distance km) for the first FEED_ON_HOME."""
    from search import feed

    lat, lon = (labels.CITIES[city][:2] if city in labels.CITIES else (None, None))
    page = feed.feed_page(user=request.user, page=1, page_size=FEED_ON_HOME, lat=lat, lon=lon)
    ids = [listing_id for listing_id, _reason, _km in page.items]
    found = {x.id: x for x in listing_selectors.listing_queryset(user=request.user)
             .filter(id__in=ids)}
    return [(found[i], labels.FEED_REASONS.get(reason, ""), km)
            for i, reason, km in page.items if i in found]


def home(request: HttpRequest) -> HttpResponse:
    fresh = list(listing_selectors.listing_list(user=request.user)[:12])
    roots = [c for c in _categories() if c.parent_id is None]
    city = getattr(request.user, "city", "") if request.user.is_authenticated else ""
    return render(request, "frontend/home.html", {
        "fresh": fresh, "categories": roots, "near": _near(city), "city": city,
        "feed": _feed(request, city),
    })


SORT_CHOICES = list(labels.SORTS.items())


def search(request: HttpRequest) -> HttpResponse:
    categories = _categories()
    by_slug = {c.slug: c for c in categories}
    query = request.GET.copy()
    # The page takes prices in major units (what people type); the selector wants minor.
    exponent = Money.zero(settings.MARKETPLACE_CURRENCY).exponent
    for key in ("min_price", "max_price"):
        raw = query.get(f"{key}_major", "").strip()
        if raw:
            try:
                query[key] = str(Money.parse(raw, settings.MARKETPLACE_CURRENCY).amount_minor)
            except ValueError:
                query[key] = "x"  # reported as a field error below
    near = query.get("near", "")
    if near in labels.CITIES:  # map-free distance: from a chosen city's centre
        query["lat"], query["lon"] = (str(v) for v in labels.CITIES[near][:2])
    context: dict[str, Any] = {
        "q": query.get("q", ""), "sorts": SORT_CHOICES, "categories": by_slug,
        "cities": city_choices(), "near": near,
        "roots": [c for c in categories if c.parent_id is None], "exponent": exponent,
        "errors": {}, "page": None,
    }
    status = 200
    try:
        params = parse_search_params(query, known_categories=set(by_slug))
        context["params"] = params
        page = search_selectors.search_listings(
            params=params, category_names={c.slug: c.name for c in categories}
        )
        context["page"] = page
        base = request.GET.copy()
        base.pop("page", None)
        context["base_query"] = base.urlencode()
        context["previous_page"] = params.page - 1 if params.page > 1 else None
    except ValidationFailed as exc:
        context["errors"] = {k: [translate(m) for m in v] for k, v in exc.fields.items()}
        status = 400
    except ServiceUnavailable:
        context["unavailable"] = True
        status = 503
    return render(request, "frontend/search.html", context, status=status)


# --- listings -------------------------------------------------------------------------------


@pages
def listing_detail(request: HttpRequest, listing_id: str) -> HttpResponse:
    detail = listing_services.listing_view(listing_id=listing_id, viewer=request.user)
    seller = account_selectors.user_get_public(user_id=detail.seller_id)
    category = listing_selectors.category_get(slug=detail.category)
    schema = listing_selectors.category_schema(category=category) if category else []
    attributes = [(spec, detail.attributes[spec["name"]]) for spec in schema
                  if spec["name"] in detail.attributes]
    try:
        listing = listing_selectors.listing_get_for_user(listing_id=detail.id, user=request.user)
        similar = search_selectors.similar(listing=listing, size=6)
    except ServiceUnavailable:
        similar = []  # the page works without the search server
    me = request.user
    is_seller = me.is_authenticated and me.pk == detail.seller_id
    conversation = None
    if me.is_authenticated and not is_seller:
        conversation = chat_selectors.conversations_for_user(user=me).filter(
            listing_id=detail.id, buyer=me
        ).first()
    if not is_seller:
        # The event log's listing_viewed, as the API records it (view_count is
        # counted by listing_view above; this is the recommender's signal).
        track("listing_viewed", listing_id=detail.id, request=request)
    return render(request, "frontend/listing_detail.html", {
        "listing": detail, "seller": seller, "category": category, "attributes": attributes,
        "reputation": account_selectors.user_reputation(user=seller), "similar": similar,
        "is_seller": is_seller, "conversation": conversation,
        "report_reasons": labels.REPORT_REASONS.items(), "share": _share(request, detail),
    })


def _share(request: HttpRequest, detail: Any) -> dict[str, Any]:
    """Absolute URLs for the share box and the Open Graph / Twitter card tags
    (crawlers need absolute ones): the canonical page, the first photo, the QR code."""
    from frontend.templatetags.market import media_url

    photo = detail.photos[0] if detail.photos else None
    image = ""
    if photo is not None:
        image = media_url(photo.medium or photo.image)
        image = request.build_absolute_uri(image) if image else ""
    description = " ".join(detail.description.split())
    return {
        "url": request.build_absolute_uri(reverse("frontend:listing", args=[detail.id])),
        "qr": reverse("listing-qr", args=[detail.id]),
        "image": image,
        "description": description[:197] + "…" if len(description) > 200 else description,
        "amount": detail.price.amount_major_str(),
        "currency": detail.price.currency,
    }


@login_required
@require_POST
@pages
def listing_favourite(request: HttpRequest, listing_id: str) -> HttpResponse:
    if request.POST.get("action") == "remove":
        listing_services.favourite_remove(listing_id=listing_id, user=request.user)
    else:
        listing = listing_selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
        listing_services.favourite_add(listing=listing, user=request.user)
    return _back(request)


@login_required
@require_POST
@pages
def listing_chat(request: HttpRequest, listing_id: str) -> HttpResponse:
    conversation, _created = chat_services.conversation_start(
        listing_id=listing_id, buyer=request.user
    )
    return redirect("frontend:conversation", conversation.pk)


def _category_choices() -> list[tuple[str, str]]:
    from frontend.templatetags.market import catname

    out = []
    for c in _categories():
        prefix = "— " if c.parent_id else ""
        out.append((c.slug, prefix + catname(c)))
    return out


def _schemas() -> dict[str, list[dict[str, Any]]]:
    categories = _categories()
    return {c.slug: listing_selectors.category_schema(category=c, categories=categories)
            for c in categories}


def _listing_form(request: HttpRequest, data: Any = None, initial: Any = None) -> ListingForm:
    return ListingForm(data, initial=initial, categories=_category_choices(),
                       currency=settings.MARKETPLACE_CURRENCY)


def _apply_service_errors(form: ListingForm, exc: ValidationFailed) -> None:
    for field, errors in exc.fields.items():
        name = {"location": "city", "shipping": "ships"}.get(field, field)
        for error in errors:
            form.add_error(name if name in form.fields else None, translate(error))


@login_required
@pages
def listing_new(request: HttpRequest) -> HttpResponse:
    form = _listing_form(request, request.POST or None,
                         initial={"pickup": True, "city": request.user.city or ""})
    schemas = _schemas()
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            listing = listing_services.listing_create(
                seller=request.user,
                attributes=attributes_from(request.POST, schemas.get(fields["category"], [])),
                idempotency_key=request.POST.get("idempotency_key") or None,
                **fields,
            )
        except ValidationFailed as exc:
            _apply_service_errors(form, exc)
        else:
            messages.success(request, _("Draft saved. Add photos, then publish."))
            return redirect("frontend:listing-edit", listing.pk)
    return render(request, "frontend/listing_form.html", {
        "form": form, "schemas": schemas, "values": request.POST or {}, "listing": None,
        "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
    }, status=400 if request.method == "POST" else 200)


def _own_listing(request: HttpRequest, listing_id: str) -> Any:
    listing = listing_selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
    if listing.seller_id != request.user.pk:
        raise NotFound("No such listing.")  # others' listings cannot be edited: same 404
    return listing


@login_required
@pages
def listing_edit(request: HttpRequest, listing_id: str) -> HttpResponse:
    listing = _own_listing(request, listing_id)
    initial = {
        "title": listing.title, "category": listing.category.slug,
        "condition": listing.condition, "price": listing.price.amount_major_str(),
        "negotiable": listing.negotiable, "description": listing.description,
        "city": listing.location_city, "ships": listing.ships, "pickup": listing.pickup,
    }
    form = _listing_form(request, request.POST or None, initial=initial)
    schemas = _schemas()
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            listing_services.listing_update(
                listing=listing, actor=request.user,
                attributes=attributes_from(request.POST, schemas.get(fields["category"], [])),
                **fields,
            )
        except ValidationFailed as exc:
            _apply_service_errors(form, exc)
        else:
            if request.POST.get("then") == "publish":
                return _publish(request, listing)
            messages.success(request, _("Saved."))
            return redirect("frontend:listing-edit", listing.pk)
    values = request.POST or {f"attr__{k}": v for k, v in (listing.attributes or {}).items()}
    photos = list(listing.photos.all())
    return render(request, "frontend/listing_form.html", {
        "form": form, "schemas": schemas, "values": values, "listing": listing,
        "photos": photos, "max_photos": settings.LISTING_MAX_PHOTOS,
    }, status=400 if request.method == "POST" else 200)


def _publish(request: HttpRequest, listing: Any) -> HttpResponse:
    listing = listing_services.listing_publish(listing=listing, actor=request.user)
    if listing.status == "active":
        messages.success(request, _("Published: your listing is live."))
    else:
        messages.warning(request, _("Your listing is waiting for a moderator's review."))
    return redirect("frontend:listing", listing.pk)


@login_required
@require_POST
@pages
def listing_action(request: HttpRequest, listing_id: str, action: str) -> HttpResponse:
    listing = _own_listing(request, listing_id)
    if action == "publish":
        return _publish(request, listing)
    service = {"withdraw": listing_services.listing_withdraw,
               "relist": listing_services.listing_relist}.get(action)
    if service is None:
        raise Http404
    service(listing=listing, actor=request.user)
    messages.success(request, _("Done."))
    return redirect("frontend:listing", listing.pk)


@login_required
def my_listings(request: HttpRequest) -> HttpResponse:
    qs = listing_selectors.listing_list(user=request.user, seller="me")
    page = Paginator(qs, 24).get_page(request.GET.get("page"))
    favourites = list(listing_selectors.favorites_for_user(user=request.user)[:24])
    return render(request, "frontend/my_listings.html", {"page": page, "favourites": favourites})


# --- chat -----------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    conversations = list(chat_selectors.conversations_for_user(user=request.user)[:100])
    rows = [(c, chat_services.conversation_unread_count(conversation=c, user=request.user))
            for c in conversations]
    return render(request, "frontend/inbox.html", {"rows": rows})


@login_required
@pages
def conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    conv = chat_selectors.conversation_get_for_participant(
        conversation_id=conversation_id, user=request.user
    )
    history = chat_selectors.messages_after(conversation=conv)
    me = request.user
    other = conv.seller if me.pk == conv.buyer_id else conv.buyer
    order = trust_selectors.orders_for_user(user=me).filter(
        listing_id=conv.listing_id, buyer_id=conv.buyer_id
    ).first()
    return render(request, "frontend/conversation.html", {
        "conversation": conv, "other": other, "is_buyer": me.pk == conv.buyer_id,
        "order": order, "chat_text": _chat_text(other.public_name),
        "chat_config": {
            "conversation": str(conv.pk), "me": str(me.pk), "listing": str(conv.listing_id),
            "buyer": str(conv.buyer_id), "seller": str(conv.seller_id),
            "currency": conv.listing.price_currency,
            "exponent": conv.listing.price.exponent,
            "lang": request.LANGUAGE_CODE,
            "checkout_url": reverse("frontend:checkout", args=[conv.listing_id]),
            "messages": [_system_translated(message_payload(m)) for m in history],
        },
    })


def _system_translated(payload: dict[str, Any]) -> dict[str, Any]:
    """A system line (the order's steps, stored in English) in the viewer's
    language; the API and the stored message are unchanged."""
    if payload["kind"] == "system" and payload["body"]:
        payload["body"] = translate(payload["body"])
    return payload


def _chat_notes() -> list[list[str]]:
    """The order steps posted into conversations, with their translations, for
    chat.js to translate the ones that arrive live (templates: "%(carrier)s")."""
    from frontend.domain_messages import CHAT_NOTES

    return [[note, _(note)] for note in CHAT_NOTES if _(note) != note]


def _chat_text(other_name: str) -> dict[str, Any]:
    """What chat.js shows, translated here so the script has no strings of its own."""
    return {
        "connected": _("Connected"), "reconnecting": _("Reconnecting…"),
        "sending": _("Sending…"), "read": _("Read"),
        "typing": _("%(name)s is typing…") % {"name": other_name},
        "offer": _("Offer"), "counter": _("Counter-offer"), "discount": _("Discount"),
        "accept": _("Accept"), "decline": _("Decline"), "counter_button": _("Counter"),
        "counter_label": _("Your counter-offer"), "pay": _("Pay now"),
        "waiting": _("Waiting for an answer"),
        "warning": _("Careful: this message looks suspicious. Never pay or share contact "
                     "details outside the marketplace."),
        "flagged": _("Flagged as suspicious"),
        "action_accept": _("Offer accepted"), "action_decline": _("Offer declined"),
        "action_withdraw": _("Offer withdrawn"),
        "action_sold_to_another": _("Sold to another buyer"),
        "status_offered": str(labels.STATUSES["offered"]),
        "status_countered": str(labels.STATUSES["countered"]),
        "status_accepted": str(labels.STATUSES["accepted"]),
        "status_declined": str(labels.STATUSES["declined"]),
        "status_expired": str(labels.STATUSES["expired"]),
        "status_withdrawn": str(labels.STATUSES["withdrawn"]),
        "bad_amount": _("Enter an amount such as 120 or 99.50."),
        "system_notes": _chat_notes(),
    }


# --- orders ---------------------------------------------------------------------------------


@login_required
@pages
def checkout(request: HttpRequest, listing_id: str) -> HttpResponse:
    listing = listing_selectors.listing_get_for_user(listing_id=listing_id, user=request.user)
    offer_id = request.POST.get("offer") or request.GET.get("offer") or ""
    price = listing.price
    if offer_id:
        offer = chat_selectors.offer_get_for_participant(offer_id=offer_id, user=request.user)
        price = offer.amount
    if request.method == "POST":
        order = escrow.order_create(buyer=request.user, listing_id=listing.pk,
                                    offer_id=offer_id or None)
        return _pay(request, order, request.POST.get("payment_method", ""))
    return render(request, "frontend/checkout.html", {
        "listing": listing, "price": price, "fee": escrow.fee_for(price), "offer_id": offer_id,
        "cards": list(labels.SANDBOX_CARDS.items()),
    })


def _pay(request: HttpRequest, order: Any, method: str) -> HttpResponse:
    try:
        order = escrow.order_pay(order=order, buyer=request.user, payment_method=method,
                                 idempotency_key=f"web:{order.pk}:{method}")
    except ValidationFailed as exc:
        messages.error(request, _error_text(exc))
    else:
        if order.status == "paid":
            messages.success(request, _("Paid. The money is held safely until you confirm."))
        elif order.status == "payment_pending":
            messages.warning(request, _("Your payment is under review."))
    return redirect("frontend:order", order.pk)


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    qs = trust_selectors.orders_for_user(user=request.user)
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "frontend/orders.html", {"page": page})


@login_required
@pages
def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = trust_selectors.order_get_for_party(order_id=order_id, user=request.user)
    me = request.user
    is_buyer, is_seller = me.pk == order.buyer_id, me.pk == order.seller_id
    reviews = (trust_reputation.order_reviews_for_party(order=order, user=me)
               if order.status == "completed" and (is_buyer or is_seller) else None)
    return render(request, "frontend/order.html", {
        "order": order, "is_buyer": is_buyer, "is_seller": is_seller,
        "seller_receives": order.price - order.fee, "events": list(order.events.all()),
        "reviews": reviews, "review_form": ReviewForm(),
        "cards": list(labels.SANDBOX_CARDS.items()),
        "dispute_reasons": list(labels.DISPUTE_REASONS.items()),
    })


@login_required
@require_POST
@pages
def order_action(request: HttpRequest, order_id: str, action: str) -> HttpResponse:
    order = trust_selectors.order_get_for_party(order_id=order_id, user=request.user)
    me, post = request.user, request.POST
    if action == "pay":
        return _pay(request, order, post.get("payment_method", ""))
    if action == "ship":
        escrow.order_ship(order=order, seller=me, carrier=post.get("carrier", ""),
                          tracking=post.get("tracking", ""))
    elif action == "handover":
        escrow.order_handover(order=order, seller=me, code=post.get("code", ""))
    elif action == "confirm":
        escrow.order_confirm(order=order, buyer=me)
    elif action == "cancel":
        escrow.order_cancel(order=order, actor=me, reason=post.get("reason", "")[:500])
    elif action == "dispute":
        escrow.order_dispute(order=order, buyer=me, reason=post.get("reason", ""),
                             details=post.get("details", "")[:5000])
    elif action == "review":
        form = ReviewForm(post)
        if not form.is_valid():
            messages.error(request, _("Choose a rating from 1 to 5 stars."))
            return redirect("frontend:order", order.pk)
        trust_reputation.review_submit(order=order, author=me, **form.cleaned_data)
        messages.success(request, _("Thank you for your review."))
        return redirect("frontend:order", order.pk)
    else:
        raise Http404
    messages.success(request, _("Done."))
    return redirect("frontend:order", order.pk)


@login_required
def balance(request: HttpRequest) -> HttpResponse:
    """The seller's balance and statement, and the payout form."""
    from marketplace.money import MoneyError
    from trust import payouts

    currency = settings.MARKETPLACE_CURRENCY
    errors: list[str] = []
    if request.method == "POST":
        try:
            amount = Money.parse(request.POST.get("amount", ""), currency)
            payouts.payout_request(user=request.user, amount=amount,
                                   idempotency_key=request.POST.get("key", ""))
        except MoneyError as exc:
            errors.append(translate(str(exc)))
        except DomainError as exc:
            errors.append(_error_text(exc))
        else:
            messages.success(request, _("Payout sent."))
            return redirect("frontend:balance")
    page = Paginator(trust_selectors.statement_lines(user=request.user), 30).get_page(
        request.GET.get("page")
    )
    lines = [(line, Money(-line.amount_minor, line.currency)) for line in page]
    return render(request, "frontend/balance.html", {
        "available": ledger.user_available(request.user.pk, currency),
        "held": ledger.user_held(request.user.pk, currency), "page": page, "lines": lines,
        "errors": errors, "payout_key": uuid.uuid4().hex,
        "identity_limit": Money(settings.PAYOUT_IDENTITY_THRESHOLD_MINOR, currency),
    }, status=400 if errors else 200)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The notification centre: newest first, unread marked; opening one marks it read."""
    from marketplace.notifications import kinds
    from marketplace.notifications import selectors as notification_selectors
    from marketplace.notifications import services as notification_services

    if request.method == "POST":
        notification_services.notifications_mark_read(recipient=request.user)
        return redirect("frontend:notifications")
    page = Paginator(notification_selectors.notifications_for(recipient=request.user), 30
                     ).get_page(request.GET.get("page"))
    language = request.LANGUAGE_CODE
    rows = [(n, kinds.describe(n.kind, n.payload, language)) for n in page]
    return render(request, "frontend/notifications.html", {"page": page, "rows": rows})


@login_required
@require_POST
@pages
def notification_open(request: HttpRequest, notification_id: str) -> HttpResponse:
    from marketplace.notifications import selectors as notification_selectors
    from marketplace.notifications import services as notification_services

    found = notification_selectors.notification_get_for_recipient(
        recipient=request.user, notification_id=notification_id
    )
    notification_services.notification_mark_read(notification=found)
    link = found.link or ""
    if link.startswith("/") and not link.startswith("//"):
        return HttpResponseRedirect(link)
    return redirect("frontend:notifications")


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """Profile (name, city, bio) and how often each kind of notification is e-mailed."""
    from django.core.exceptions import ValidationError

    from marketplace.notifications import kinds
    from marketplace.notifications import services as notification_services

    me = request.user
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("section") == "emails":
                notification_services.preferences_update(user=me, changes={
                    name: request.POST.get(f"freq__{name}", "") for name in kinds.KINDS
                })
            else:
                account_services.profile_update(
                    user=me, display_name=request.POST.get("display_name", "").strip(),
                    city=request.POST.get("city", ""), bio=request.POST.get("bio", "").strip(),
                )
        except ValidationFailed as exc:
            errors.append(_error_text(exc))
        except ValidationError as exc:
            errors.extend(exc.messages)
        else:
            messages.success(request, _("Saved."))
            return redirect("frontend:settings")
    preferences = notification_services.preferences_for(user=me)
    frequency_labels = {"immediately": _("At once"), "daily": _("Daily digest"),
                        "never": _("Never")}
    return render(request, "frontend/settings.html", {
        "errors": errors, "cities": city_choices(),
        "emails": [(name, kind.label, preferences[name]) for name, kind in kinds.KINDS.items()],
        "frequencies": [(f, frequency_labels.get(f, f)) for f in kinds.FREQUENCIES],
    }, status=400 if errors else 200)


# --- people ---------------------------------------------------------------------------------


@pages
def profile(request: HttpRequest, user_id: str) -> HttpResponse:
    person = account_selectors.user_get_public(user_id=user_id)
    listings = list(listing_selectors.listing_list(user=request.user, seller=str(person.pk),
                                                   statuses=["active"])[:24])
    return render(request, "frontend/profile.html", {
        "person": person, "reputation": account_selectors.user_reputation(user=person),
        "reviews": list(trust_reputation.reviews_received(user=person)[:20]),
        "listings": listings,
    })

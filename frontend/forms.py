"""Page forms. They only parse what people type; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from frontend import labels
from marketplace.money import Money, MoneyError


class RegisterForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("E-mail"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


def city_choices() -> list[tuple[str, str]]:
    zh = (get_language() or "en").startswith("zh")
    return [("", "—")] + [(name, zh_name if zh else name)
                         for name, (_lat, _lon, zh_name) in labels.CITIES.items()]


class ListingForm(forms.Form):
    """The fixed fields of a listing; category attributes are read by `attributes_from`."""

    title = forms.CharField(label=_("Title"), max_length=120)
    category = forms.ChoiceField(label=_("Category"))
    condition = forms.ChoiceField(label=_("Condition"), choices=list(labels.CONDITIONS.items()))
    price = forms.CharField(label=_("Price"), max_length=20,
                            help_text=_("In %(currency)s, e.g. 120 or 99.50"))
    negotiable = forms.BooleanField(label=_("Open to offers"), required=False)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False,
                                  max_length=5000)
    city = forms.ChoiceField(label=_("City"), required=False)
    ships = forms.BooleanField(label=_("I can ship it"), required=False)
    pickup = forms.BooleanField(label=_("Pickup in person"), required=False)

    def __init__(self, *args: Any, categories: list[tuple[str, str]], currency: str,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["category"].choices = categories
        self.fields["city"].choices = city_choices()
        self.fields["price"].help_text = self.fields["price"].help_text % {"currency": currency}

    def clean_price(self) -> Money:
        try:
            return Money.parse(self.cleaned_data["price"].replace(",", "").strip(), self.currency)
        except (MoneyError, ValueError):
            raise forms.ValidationError(_("Enter an amount such as 120 or 99.50.")) from None

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data in the shape `listings.services` takes."""
        data = self.cleaned_data
        city = data.get("city") or ""
        lat, lon = (labels.CITIES[city][:2] if city in labels.CITIES else (None, None))
        return {
            "title": data["title"], "description": data.get("description") or "",
            "category": data["category"], "condition": data["condition"],
            "price": data["price"], "negotiable": bool(data.get("negotiable")),
            "location": {"lat": lat, "lon": lon, "city": city},
            "shipping": {"ships": bool(data.get("ships")), "pickup": bool(data.get("pickup"))},
        }


def attributes_from(post: Any, schema: list[dict[str, Any]]) -> dict[str, Any]:
    """The `attr__<name>` fields of the chosen category; empty ones are left out."""
    values: dict[str, Any] = {}
    for spec in schema:
        key = f"attr__{spec['name']}"
        if spec.get("type") == "boolean":
            if key in post:
                values[spec["name"]] = True
            continue
        raw = post.get(key, "")
        if raw not in ("", None):
            values[spec["name"]] = raw
    return values


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Rating"), coerce=int,
                                    choices=[(i, str(i)) for i in range(1, 6)])
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea, required=False,
                              max_length=2000)

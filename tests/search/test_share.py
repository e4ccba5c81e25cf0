"""GET /api/listings/{id}/qr.png: a QR code that decodes to the listing page."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from tests.listings.factories import ListingFactory

pytestmark = pytest.mark.django_db


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def test_qr_code_decodes_to_the_absolute_listing_page_url(api_client):
    listing = ListingFactory(active=True)

    response = api_client.get(f"/api/listings/{listing.id}/qr.png", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert decode(response.content) == [f"http://testserver/items/{listing.id}/"]


def test_qr_code_of_a_draft_is_404_for_others_but_served_to_the_seller(user, user_client,
                                                                       api_client):
    draft = ListingFactory(seller=user)

    assert api_client.get(f"/api/listings/{draft.id}/qr.png").status_code == 404
    assert api_client.get("/api/listings/nope/qr.png").status_code == 404
    mine = user_client.get(f"/api/listings/{draft.id}/qr.png")
    assert decode(mine.content) == [f"http://testserver/items/{draft.id}/"]

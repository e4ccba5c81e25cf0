"""Keeping the index true: events, rebuilds with an alias swap, checks, outages."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command

from listings import services as listing_services
from search import indexing
from search.client import get_client, reset_clients
from tests.listings.factories import ListingFactory
from tests.search.conftest import index_all, make_listing

# serialized_rollback: transactional tests flush tables; this restores the
# category tree that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def found(client, q: str) -> list[str]:
    response = client.get("/api/search", {"q": q})
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def test_publishing_indexes_and_withdrawing_or_selling_removes(api_client, index):
    listing = ListingFactory(title="Brompton folding bike")
    seller = listing.seller

    listing_services.listing_publish(listing=listing, actor=seller)
    assert found(api_client, "brompton") == [str(listing.id)]

    listing_services.listing_withdraw(listing=listing, actor=seller)
    assert found(api_client, "brompton") == []

    listing_services.listing_relist(listing=listing, actor=seller)
    assert found(api_client, "brompton") == [str(listing.id)]

    listing_services.listing_reserve(listing=listing, order_ref="order-1")
    listing_services.listing_mark_sold(listing=listing, order_ref="order-1")
    assert found(api_client, "brompton") == []


def test_editing_a_listing_updates_its_document(api_client, index):
    listing = ListingFactory(title="Old lamp")
    listing_services.listing_publish(listing=listing, actor=listing.seller)

    listing_services.listing_update(
        listing=listing, actor=listing.seller, title="Vintage brass lamp"
    )

    assert found(api_client, "brass") == [str(listing.id)]


def test_syncing_twice_changes_nothing(index):
    listing = make_listing(title="Teapot")

    assert indexing.sync_listing(listing_id=listing.id) == "indexed"
    assert indexing.sync_listing(listing_id=listing.id) == "indexed"

    assert get_client().count(index=indexing.alias_name())["count"] == 1


def test_reindex_swaps_the_alias_and_drops_the_old_index(index):
    make_listing(title="Kettle")
    first = indexing.reindex()
    make_listing(title="Toaster")

    second = indexing.reindex()

    assert indexing.indices_behind_alias() == [second.index]
    assert first.index in second.dropped
    assert not get_client().indices.exists(index=first.index)
    assert get_client().count(index=indexing.alias_name())["count"] == 2


def test_queries_during_rebuilds_never_fail_or_come_back_empty(api_client, index):
    for i in range(60):
        make_listing(title=f"Bookshelf {i}", category="furniture")
    index_all()
    failures: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def query_loop() -> None:
        from django.db import connection
        from django.test import Client

        client = Client()
        try:
            while not stop.is_set():
                response = client.get("/api/search", {"q": "bookshelf"})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.content[:200]!r}")
                else:
                    counts.append(response.json()["total"])
        finally:
            connection.close()

    thread = threading.Thread(target=query_loop)
    thread.start()
    try:
        for _ in range(3):
            indexing.reindex()
    finally:
        stop.set()
        thread.join()

    assert failures == []
    assert counts and set(counts) == {60}


def test_check_reports_missing_stale_and_extra_and_repair_fixes_them(index):
    kept = make_listing(title="Mirror")
    stale = make_listing(title="Rug")
    index_all()
    missing = make_listing(title="Clock")  # never indexed
    from listings.models import Listing

    Listing.objects.filter(id=stale.id).update(title="Persian rug")  # updated_at moves
    Listing.objects.filter(id=stale.id).update(updated_at=stale.updated_at.replace(year=2031))
    Listing.objects.filter(id=kept.id).update(status="withdrawn")  # should be gone

    report = indexing.check()

    assert report.missing == [str(missing.id)]
    assert report.stale == [str(stale.id)]
    assert report.extra == [str(kept.id)]

    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("search_reindex", "--check", stdout=out, stderr=StringIO())
    assert exited.value.code == 1
    assert "missing: 1" in out.getvalue()

    indexing.repair(report)
    assert indexing.check().ok


def test_reindex_command_prints_progress(index):
    for i in range(3):
        make_listing(title=f"Plant pot {i}")
    out = StringIO()

    call_command("search_reindex", stdout=out)

    text = out.getvalue()
    assert "3/3" in text
    assert "Indexed 3 listings" in text


def test_reindex_command_with_search_down_is_a_clear_error(settings, db):
    from django.core.management import CommandError

    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    reset_clients()

    with pytest.raises(CommandError, match="unreachable"):
        call_command("search_reindex", stdout=StringIO())


@pytest.mark.integration
def test_search_server_outage_then_recovery_resyncs(api_client, settings):
    """Stop the real search server, change listings, start it again: the
    pending events re-sync what changed; --check --repair restores the rest."""
    from osmem_server import OsmemServer

    from marketplace.outbox.models import OutboxEvent
    from marketplace.outbox.services import dispatch_pending
    from tests.conftest import free_port

    settings.SEARCH_REFRESH_ON_WRITE = True
    addr = f"127.0.0.1:{free_port()}"
    server = OsmemServer.start(freeze=False, japanese=False, addr=addr)
    settings.ELASTICSEARCH_URL = server.url
    reset_clients()
    try:
        survivor = ListingFactory(title="Espresso machine")
        gone = ListingFactory(title="Espresso grinder")
        for listing in (survivor, gone):
            listing_services.listing_publish(listing=listing, actor=listing.seller)
        assert len(found(api_client, "espresso")) == 2

        server.close()
        assert api_client.get("/api/search", {"q": "espresso"}).status_code == 503

        listing_services.listing_withdraw(listing=gone, actor=gone.seller)
        newcomer = ListingFactory(title="Espresso cups")
        listing_services.listing_publish(listing=newcomer, actor=newcomer.seller)
        pending = OutboxEvent.objects.filter(delivered_at__isnull=True).count()
        assert pending == 2  # withdrawn + published wait for the search server

        server = OsmemServer.start(freeze=False, japanese=False, addr=addr)  # comes back empty
        reset_clients()
        OutboxEvent.objects.update(enqueued_at=None)
        dispatch_pending()

        assert OutboxEvent.objects.filter(delivered_at__isnull=True).count() == 0
        assert found(api_client, "espresso") == [str(newcomer.id)]
        # The restarted in-memory server lost what it held before: the check sees it.
        report = indexing.check()
        assert report.missing == [str(survivor.id)]
        indexing.repair(report)
        assert sorted(found(api_client, "espresso")) == sorted([str(survivor.id), str(newcomer.id)])
    finally:
        server.close()
        reset_clients()

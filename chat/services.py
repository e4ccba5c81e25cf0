"""Every write of the chat app: conversations, messages, offers, reads, blocks.

Persist first, broadcast second: a message is committed before anyone hears
of it, and the channel-layer send happens in `transaction.on_commit` (the
layer is a doorbell, not a store; clients catch up by id from the database).
Other apps hear about messages and offers through outbox events.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from chat import events, outbox_batch, safety
from chat.models import (
    Block,
    Conversation,
    Message,
    MessageKind,
    Offer,
    OfferStatus,
    ReadMarker,
    SafetySignal,
)
from chat.outbox_batch import publish_batched
from chat.serializers import message_payload, offer_payload
from listings import selectors as listing_selectors
from listings import services as listing_services
from listings.models import Listing, ListingStatus
from marketplace.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from marketplace.ids import parse_uuid, uuid7
from marketplace.money import Money
from marketplace.outbox.models import OutboxEvent
from marketplace.outbox.services import publish

logger = logging.getLogger(__name__)

MAX_BODY = 2000
MAX_CLIENT_ID = 64


def group_name(conversation_id: Any) -> str:
    return f"chat.{conversation_id}"


def _broadcast_on_commit(conversation_id: Any, event: dict[str, Any]) -> None:
    """Ring the doorbell after commit. A layer outage loses only the ring:
    the message is stored and clients catch up by id."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group_name(conversation_id), event)
        except Exception as exc:  # noqa: BLE001 - never fail a stored message on the layer
            logger.warning("chat: broadcast to %s failed: %s", conversation_id, exc)

    transaction.on_commit(send)


def _is_participant(conversation: Conversation, user: Any) -> bool:
    return user.pk in (conversation.buyer_id, conversation.seller_id)


def _blocked_between(a: Any, b: Any) -> bool:
    return Block.objects.filter(
        Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a)
    ).exists()


# --- conversations -------------------------------------------------------------------------


def conversation_start(*, listing_id: Any, buyer: Any) -> tuple[Conversation, bool]:
    """The caller's conversation about a listing, created once.

    The listing must be visible to the caller and open for contact (active or
    reserved); sellers cannot start a conversation with themselves.
    """
    listing = listing_selectors.listing_get_for_user(listing_id=listing_id, user=buyer)
    if listing.seller_id == buyer.pk:
        raise ValidationFailed({"listing": ["This is your own listing."]})
    existing = Conversation.objects.filter(listing=listing, buyer=buyer).first()
    if existing is not None:
        return existing, False
    if listing.status not in (ListingStatus.ACTIVE, ListingStatus.RESERVED):
        raise InvalidState("This listing is not open for messages.", state=listing.status)
    if _blocked_between(buyer.pk, listing.seller_id):
        raise NotAllowed("You cannot message this seller.")
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                listing=listing, buyer=buyer, seller_id=listing.seller_id
            )
    except IntegrityError:
        return Conversation.objects.get(listing=listing, buyer=buyer), False
    return conversation, True


# --- messages -------------------------------------------------------------------------------


def _clean_client_id(client_id: Any) -> str:
    if client_id is None or client_id == "":
        return ""
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID:
        raise ValidationFailed({"client_id": [f"A string of at most {MAX_CLIENT_ID} characters."]})
    return client_id


def _clean_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed({"body": ["Write a message."]})
    if len(body) > MAX_BODY:
        raise ValidationFailed({"body": [f"At most {MAX_BODY} characters."]})
    return body.strip()


def _next_seq(conversation_id: Any, *, now: Any, check_block: bool = False) -> int | None:
    """Number the next message of a conversation in one statement: UPDATE ...
    RETURNING bumps `last_seq` and takes the row lock (held until commit), so
    numbers are gap-free and strictly ordered. With `check_block` the same
    statement refuses (returns None) when either participant blocked the other,
    which costs no extra round trip and is never stale (unlike a cached check).
    Call inside a transaction."""
    table = connection.ops.quote_name(Conversation._meta.db_table)
    pk = Conversation._meta.pk.get_db_prep_value(conversation_id, connection)
    params: list[Any] = [now, pk]
    block_clause = ""
    if check_block:
        block = connection.ops.quote_name(Block._meta.db_table)
        block_clause = (
            f" AND NOT EXISTS (SELECT 1 FROM {block} b WHERE"  # noqa: S608 - our table names
            f" (b.blocker_id = {table}.buyer_id AND b.blocked_id = {table}.seller_id)"
            f" OR (b.blocker_id = {table}.seller_id AND b.blocked_id = {table}.buyer_id))"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1, last_message_at = %s"  # noqa: S608 - names are ours
            f" WHERE id = %s{block_clause} RETURNING last_seq",
            params,
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _append(
    conversation_id: Any,
    *,
    sender: Any,
    kind: str,
    body: str,
    client_id: str,
    offer: Offer | None = None,
    data: dict[str, Any] | None = None,
    image: dict[str, Any] | None = None,
    check_block: bool = False,
) -> Message:
    """Store one message. Call inside a transaction; takes the conversation row lock
    to number the message. With `check_block`, raises NotAllowed("blocked")
    when the participants blocked each other."""
    now = timezone.now()
    seq = _next_seq(conversation_id, now=now, check_block=check_block)
    if seq is None:
        if check_block and Conversation.objects.filter(pk=conversation_id).exists():
            raise NotAllowed("Messages between you and this user are blocked.", code="blocked")
        raise NotFound("No such conversation.")
    message = Message(
        conversation_id=conversation_id,
        seq=seq,
        sender=sender,
        kind=kind,
        body=body,
        client_id=client_id,
        offer=offer,
        data=data or {},
        created_at=now,
    )
    if image:
        message.image = image["name"]
        message.image_width = image["width"]
        message.image_height = image["height"]
    message.save(force_insert=True)
    return message


def _existing_by_client_id(
    conversation: Conversation, sender: Any, client_id: str
) -> Message | None:
    if not client_id:
        return None
    return (
        Message.objects.select_related("offer")
        .filter(conversation=conversation, sender=sender, client_id=client_id)
        .first()
    )


def _check_can_send(conversation: Conversation, sender: Any) -> None:
    if not _is_participant(conversation, sender):
        raise NotFound("No such conversation.")
    if _blocked_between(conversation.buyer_id, conversation.seller_id):
        raise NotAllowed("Messages between you and this user are blocked.", code="blocked")


def message_send(
    *,
    conversation: Conversation,
    sender: Any,
    body: Any,
    client_id: Any = "",
    broadcast: bool = True,
) -> tuple[Message, bool]:
    """Store a text message and (with `broadcast`) ring the group after commit.

    Returns (message, created). A retry with the same `client_id` returns the
    stored message (created False) and broadcasts nothing new. The websocket
    consumer passes broadcast=False and sends from its own event loop once
    this returns (the message is committed by then), which saves a hop from
    the database thread back into the loop.

    On PostgreSQL the whole write is one statement (see _insert_text_message):
    number + row lock + block check, the message row and its outbox event.
    Duplicates are found by the unique constraint, not a pre-check: the
    IntegrityError undoes the statement (no gap in `seq`) and the stored
    message is returned. The fraud/safety checks run from the outbox event
    (`chat.message_sent`), after commit and off the socket server.
    """
    client_id = _clean_client_id(client_id)
    body = _clean_body(body)
    if not _is_participant(conversation, sender):
        raise NotFound("No such conversation.")
    try:
        if connection.vendor == "postgresql":
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                message = _insert_text_message(conversation, sender, body, client_id)
            if broadcast:
                _broadcast_on_commit(
                    conversation.pk, {"type": "chat.message", "message": message_payload(message)}
                )
        else:
            with transaction.atomic():
                message = _append(
                    conversation.pk,
                    sender=sender,
                    kind=MessageKind.TEXT,
                    body=body,
                    client_id=client_id,
                    check_block=True,
                )
                _after_message(conversation, message, broadcast=broadcast)
    except IntegrityError:
        # The same client_id again (a retry, or a race from another connection).
        existing = _existing_by_client_id(conversation, sender, client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _insert_text_message(
    conversation: Conversation, sender: Any, body: str, client_id: str
) -> Message:
    """PostgreSQL: one statement, one round trip, and (outside a transaction)
    no BEGIN/COMMIT round trips: a data-modifying CTE numbers the message
    (UPDATE ... RETURNING takes the conversation row lock and refuses when the
    participants blocked each other), inserts it, and inserts its
    `chat.message_sent` outbox event. A statement is atomic, so a duplicate
    client_id (IntegrityError) undoes all three. Columns come from the
    models' _meta, so a column added later with a default still works."""
    now = timezone.now()
    message = Message(
        id=uuid7(),
        conversation_id=conversation.pk,
        seq=0,
        sender=sender,
        kind=MessageKind.TEXT,
        body=body,
        client_id=client_id,
        data={},
        created_at=now,
    )
    event = outbox_batch.event_row(
        topic=events.MESSAGE_SENT, payload=_message_event(conversation, message)
    )
    quote = connection.ops.quote_name
    conv_table = quote(Conversation._meta.db_table)
    block_table = quote(Block._meta.db_table)
    params: list[Any] = [now, Conversation._meta.pk.get_db_prep_value(conversation.pk, connection)]

    def columns(obj: Any, special: dict[str, str]) -> tuple[str, str]:
        names, values = [], []
        for f in type(obj)._meta.concrete_fields:
            names.append(quote(f.column))
            if f.attname in special:
                values.append(special[f.attname])
                if "%s" in special[f.attname]:
                    params.append(f.get_db_prep_save(getattr(obj, f.attname), connection))
            else:
                values.append("%s")
                params.append(f.get_db_prep_save(getattr(obj, f.attname), connection))
        return ", ".join(names), ", ".join(values)

    m_names, m_values = columns(message, {"seq": "c.last_seq"})
    e_names, e_values = columns(
        event, {"payload": "(%s::jsonb || jsonb_build_object('seq', m.seq))"}
    )
    sql = (
        f"WITH c AS (UPDATE {conv_table} SET last_seq = last_seq + 1, last_message_at = %s"  # noqa: S608 - names from _meta, values as parameters
        f" WHERE id = %s AND NOT EXISTS (SELECT 1 FROM {block_table} b WHERE"
        f" (b.blocker_id = {conv_table}.buyer_id AND b.blocked_id = {conv_table}.seller_id)"
        f" OR (b.blocker_id = {conv_table}.seller_id AND b.blocked_id = {conv_table}.buyer_id))"
        f" RETURNING last_seq),"
        f" m AS (INSERT INTO {quote(Message._meta.db_table)} ({m_names})"
        f" SELECT {m_values} FROM c RETURNING seq),"
        f" e AS (INSERT INTO {quote(type(event)._meta.db_table)} ({e_names})"
        f" SELECT {e_values} FROM m RETURNING 1)"
        f" SELECT seq FROM m"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        if Conversation.objects.filter(pk=conversation.pk).exists():
            raise NotAllowed("Messages between you and this user are blocked.", code="blocked")
        raise NotFound("No such conversation.")
    message.seq = int(row[0])
    message._state.adding = False
    message._state.db = connection.alias
    outbox_batch.after_insert(str(event.id))
    return message


def message_send_batch(
    *, items: list[tuple[Conversation, Any, Any, Any]]
) -> list[tuple[Message, bool] | Exception]:
    """Store several text messages (conversation, sender, body, client_id), in
    order, as `message_send` would one by one, and return for each what it
    would have returned or raised. No broadcast: the caller rings the groups.

    Group commit for the socket server: on PostgreSQL the messages that
    arrived together go in ONE statement (numbering, block check, message rows
    and outbox events, as in _insert_text_message), so one round trip, one
    commit and one WAL flush serve them all. Anything unusual sends the
    affected items through `message_send` one at a time, which gives each its
    own answer: a duplicate client_id anywhere in the batch (the unique
    constraint fails the whole statement), a blocked or missing conversation
    (no row comes back for it), a deadlock with another process's batch.
    Call outside a transaction (each batch commits on its own)."""
    results: list[tuple[Message, bool] | Exception | None] = [None] * len(items)
    ready: list[tuple[int, Conversation, Any, str, str]] = []
    for i, (conversation, sender, body, client_id) in enumerate(items):
        try:
            cleaned_id = _clean_client_id(client_id)
            cleaned_body = _clean_body(body)
            if not _is_participant(conversation, sender):
                raise NotFound("No such conversation.")
        except Exception as exc:  # noqa: BLE001 - handed back to the caller of this item
            results[i] = exc
            continue
        ready.append((i, conversation, sender, cleaned_body, cleaned_id))
    if len(ready) == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        retry = ready
    else:
        try:
            stored = _insert_text_messages(ready)
        except DatabaseError:  # a duplicate client_id, a deadlock: one at a time below
            stored = {}
        retry = []
        for entry in ready:
            message = stored.get(entry[0])
            if message is None:
                retry.append(entry)
            else:
                results[entry[0]] = (message, True)
    for i, conversation, sender, body, client_id in retry:
        try:
            results[i] = message_send(
                conversation=conversation,
                sender=sender,
                body=body,
                client_id=client_id,
                broadcast=False,
            )
        except Exception as exc:  # noqa: BLE001 - handed back to the caller of this item
            results[i] = exc
    return results  # type: ignore[return-value]


_BATCH_SQL: str | None = None

# What the group-commit statement inserts for each column: the per-message
# values come from the JSON rows (alias s), the rest are the same for every
# message of a text batch. Keyed by attname, in the model's column order (a
# new column fails loudly in _batch_sql).
_MESSAGE_COLUMNS = {
    "id": "s.id",
    "conversation_id": "s.conv",
    "seq": "s.seq",
    "sender_id": "s.sender",
    "kind": "%(kind)s::text",
    "body": "s.body",
    "client_id": "s.client_id",
    "offer_id": "NULL::uuid",
    "image": "''",
    "image_width": "NULL::int",
    "image_height": "NULL::int",
    "data": "'{}'::jsonb",
    "created_at": "%(now)s::timestamptz",
}
# The payload is _message_event's, built by PostgreSQL (to_jsonb of a uuid is its text).
_EVENT_COLUMNS = {
    "id": "s.ev",
    "topic": "%(topic)s::text",
    "payload": (
        "jsonb_build_object('conversation_id', s.conv, 'message_id', s.id, 'seq', s.seq,"
        " 'sender_id', s.sender, 'recipient_id', s.recipient, 'listing_id', s.listing,"
        " 'kind', %(kind)s::text)"
    ),
    "created_at": "%(now)s::timestamptz",
    "delivered_at": "NULL::timestamptz",
    "enqueued_at": "%(enqueued_at)s::timestamptz",
    "attempts": "0",
    "last_error": "''",
}


def _batch_sql() -> str:
    """The group-commit statement, the same text for any batch size: the
    messages arrive as ONE json parameter (a row per message, encoded by
    orjson), so psycopg neither parses a long statement per batch nor adapts
    a dozen parameters per message, and Django builds no model instance to
    insert. Each conversation is bumped once by its number of messages (row
    lock, block check), and the messages of one conversation are numbered in
    arrival order."""
    global _BATCH_SQL
    if _BATCH_SQL is not None:
        return _BATCH_SQL
    quote = connection.ops.quote_name
    conv_table = quote(Conversation._meta.db_table)
    block_table = quote(Block._meta.db_table)
    m_fields = Message._meta.concrete_fields
    e_fields = OutboxEvent._meta.concrete_fields
    if [f.attname for f in m_fields] != list(_MESSAGE_COLUMNS):
        # _insert_text_messages hands Message.from_db its values in this order.
        raise RuntimeError("chat.services._MESSAGE_COLUMNS is out of step with Message")
    m_insert = ", ".join(quote(f.column) for f in m_fields)
    m_select = ", ".join(_MESSAGE_COLUMNS[f.attname] for f in m_fields)
    e_insert = ", ".join(quote(f.column) for f in e_fields)
    e_select = ", ".join(_EVENT_COLUMNS[f.attname] for f in e_fields)
    _BATCH_SQL = (
        "WITH v AS (SELECT * FROM json_to_recordset(%(rows)s::json) AS r(i int, id uuid,"  # noqa: S608 - names from _meta, values as parameters
        " conv uuid, sender uuid, recipient uuid, listing uuid, body text, client_id text,"
        " ev uuid)),"
        " n AS (SELECT conv, count(*) AS k FROM v GROUP BY conv),"
        f" c AS (UPDATE {conv_table} SET last_seq = last_seq + n.k, last_message_at = %(now)s"
        f" FROM n WHERE {conv_table}.id = n.conv AND NOT EXISTS (SELECT 1 FROM {block_table} b"
        f" WHERE (b.blocker_id = {conv_table}.buyer_id AND b.blocked_id = {conv_table}.seller_id)"
        f" OR (b.blocker_id = {conv_table}.seller_id AND b.blocked_id = {conv_table}.buyer_id))"
        f" RETURNING {conv_table}.id, {conv_table}.last_seq - n.k AS base),"
        " s AS (SELECT v.*, c.base + row_number() OVER (PARTITION BY v.conv ORDER BY v.i)"
        " AS seq FROM v JOIN c ON c.id = v.conv),"
        f" m AS (INSERT INTO {quote(Message._meta.db_table)} ({m_insert})"
        f" SELECT {m_select} FROM s RETURNING 1),"
        f" e AS (INSERT INTO {quote(OutboxEvent._meta.db_table)} ({e_insert})"
        f" SELECT {e_select} FROM s RETURNING 1)"
        " SELECT s.i, s.seq FROM s"
    )
    return _BATCH_SQL


def _insert_text_messages(
    ready: list[tuple[int, Conversation, Any, str, str]],
) -> dict[int, Message]:
    """PostgreSQL, autocommit: one statement for the whole batch (see
    _batch_sql). Returns the stored messages by item index; items missing
    from it were not stored (blocked, or no such conversation)."""
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    by_index: dict[int, int] = {}
    for i, conversation, sender, body, client_id in ready:
        sender_id = sender.pk
        by_index[i] = len(rows)
        rows.append(
            {
                "i": i,
                "id": uuid7(),
                "conv": conversation.pk,
                "sender": sender_id,
                "recipient": conversation.other_party(sender_id),
                "listing": conversation.listing_id,
                "body": body,
                "client_id": client_id,
                "ev": uuid7(),
            }
        )
    params = {
        "rows": orjson.dumps(rows).decode(),
        "now": now,
        "kind": MessageKind.TEXT.value,
        "topic": events.MESSAGE_SENT,
        "enqueued_at": outbox_batch.enqueued_at(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_batch_sql(), params)
        stored_rows = cursor.fetchall()
    # Instances as a query would load them (Model.from_db: positional, no signals).
    alias = connection.alias
    kind = MessageKind.TEXT.value
    stored: dict[int, Message] = {}
    event_ids: list[str] = []
    for i, seq in stored_rows:
        row = rows[by_index[i]]
        message = Message.from_db(
            alias,
            _MESSAGE_COLUMNS,
            [
                row["id"], row["conv"], int(seq), row["sender"], kind, row["body"],
                row["client_id"], None, "", None, None, {}, now,
            ],
        )
        message.sender = ready[by_index[i]][2]  # the sender's cached, as before
        event_ids.append(str(row["ev"]))
        stored[i] = message
    outbox_batch.after_insert_many(event_ids)
    return stored


def message_checks_run(*, message_id: Any) -> list[str]:
    """Run the message checks (chat's rules, trust's fraud model) on a stored
    message; record what they flag, warn the recipient and announce
    `chat.message_flagged`. Called from the `chat.message_sent` outbox event,
    so it runs after commit, off the socket server, and at most once per
    message (the outbox records the delivery in the same transaction).
    Returns the reasons flagged."""
    message = (
        Message.objects.select_related("conversation")
        .filter(pk=message_id, kind=MessageKind.TEXT)
        .first()
    )
    if message is None or not message.body or message.sender_id is None:
        return []
    if SafetySignal.objects.filter(message=message).exists():
        return []  # already checked (the event was delivered twice)
    conversation = message.conversation
    flagged = safety.run_checks(
        message.body,
        {"sender_id": str(message.sender_id), "conversation_id": str(conversation.pk)},
    )
    if not flagged:
        return []
    with transaction.atomic():
        return _record_flags(conversation, message, flagged)


def _record_flags(
    conversation: Conversation, message: Message, flagged: list[tuple[str, safety.Verdict]]
) -> list[str]:
    reasons: list[str] = []
    for name, verdict in flagged:
        SafetySignal.objects.create(
            message=message, check_name=name, score=verdict.score, reasons=verdict.reasons
        )
        reasons.extend(r for r in verdict.reasons if r not in reasons)
    if reasons and message.sender_id is not None:
        recipient = conversation.other_party(message.sender_id)
        _broadcast_on_commit(
            conversation.pk,
            {
                "type": "chat.warning",
                "for_user": str(recipient),
                "message_id": str(message.id),
                "reasons": reasons,
                "detail": " ".join(safety.WARNING_TEXT.get(r, "") for r in reasons).strip(),
            },
        )
        publish(
            topic=events.MESSAGE_FLAGGED,
            payload={
                "conversation_id": str(conversation.pk),
                "message_id": str(message.id),
                "sender_id": str(message.sender_id),
                "recipient_id": str(recipient),
                "reasons": reasons,
                "score": max((v.score or 0.0) for _, v in flagged),
            },
        )
    return reasons


def _message_event(conversation: Conversation, message: Message) -> dict[str, Any]:
    return {
        "conversation_id": str(conversation.pk),
        "message_id": str(message.id),
        "seq": message.seq,
        "sender_id": str(message.sender_id) if message.sender_id else None,
        "recipient_id": str(conversation.other_party(message.sender_id))
        if message.sender_id
        else None,
        "listing_id": str(conversation.listing_id),
        "kind": message.kind,
    }


def _after_message(conversation: Conversation, message: Message, *, broadcast: bool = True) -> None:
    """Broadcast a stored message after commit and announce it (same transaction)."""
    if broadcast:
        payload = message_payload(message)
        _broadcast_on_commit(conversation.pk, {"type": "chat.message", "message": payload})
    publish_batched(topic=events.MESSAGE_SENT, payload=_message_event(conversation, message))


def image_message_send(
    *, conversation: Conversation, sender: Any, upload: Any, client_id: Any = ""
) -> tuple[Message, bool]:
    """A photo in the chat, through the listings photo pipeline (validated,
    EXIF and GPS stripped) and stored via the default storage."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from listings.photos import process_upload

    client_id = _clean_client_id(client_id)
    _check_can_send(conversation, sender)
    existing = _existing_by_client_id(conversation, sender, client_id)
    if existing is not None:
        return existing, False
    processed = process_upload(upload)
    name = default_storage.save(
        f"chat/{conversation.pk}/{uuid7()}.jpg",
        ContentFile(processed.content),
    )
    try:
        with transaction.atomic():
            message = _append(
                conversation.pk,
                sender=sender,
                kind=MessageKind.IMAGE,
                body="",
                client_id=client_id,
                image={"name": name, "width": processed.width, "height": processed.height},
            )
            _after_message(conversation, message)
    except Exception:
        default_storage.delete(name)
        raise
    return message, True


def system_message_post(
    *, conversation_id: Any, body: str, data: dict[str, Any] | None = None, dedupe_key: str = ""
) -> Message:
    """A system line in a conversation (order paid, shipped, ...). Idempotent per dedupe_key."""
    with transaction.atomic():
        if dedupe_key:
            existing = Message.objects.filter(
                conversation_id=conversation_id, sender=None, client_id=dedupe_key[:MAX_CLIENT_ID]
            ).first()
            if existing is not None:
                return existing
        message = _append(
            conversation_id,
            sender=None,
            kind=MessageKind.SYSTEM,
            body=body,
            client_id=dedupe_key[:MAX_CLIENT_ID],
            data=data,
        )
        _broadcast_on_commit(
            conversation_id, {"type": "chat.message", "message": message_payload(message)}
        )
    return message


# --- typing and reading -------------------------------------------------------------------------


def read_mark(*, conversation: Conversation, user: Any, up_to: Any) -> ReadMarker:
    """Mark messages up to `up_to` (a message id) read; markers only move forward."""
    if not _is_participant(conversation, user):
        raise NotFound("No such conversation.")
    uid = parse_uuid(up_to)
    message = (
        Message.objects.filter(conversation=conversation, id=uid).only("seq").first()
        if uid
        else None
    )
    if message is None:
        raise ValidationFailed({"up_to": ["No such message in this conversation."]})
    with transaction.atomic():
        marker, _ = ReadMarker.objects.get_or_create(conversation=conversation, user=user)
        moved = ReadMarker.objects.filter(pk=marker.pk, last_read_seq__lt=message.seq).update(
            last_read_seq=message.seq, updated_at=timezone.now()
        )
        marker.refresh_from_db()
        if moved:
            _broadcast_on_commit(
                conversation.pk,
                {
                    "type": "chat.read",
                    "user": str(user.pk),
                    "up_to": str(message.id),
                    "seq": message.seq,
                },
            )
    return marker


# --- blocks -------------------------------------------------------------------------------------


def user_block(*, blocker: Any, blocked_id: Any) -> Block:
    uid = parse_uuid(blocked_id)
    from django.contrib.auth import get_user_model

    target = get_user_model().objects.filter(pk=uid, is_active=True).first() if uid else None
    if target is None:
        raise NotFound("No such user.")
    if target.pk == blocker.pk:
        raise ValidationFailed("You cannot block yourself.")
    block, _ = Block.objects.get_or_create(blocker=blocker, blocked=target)
    return block


def user_unblock(*, blocker: Any, blocked_id: Any) -> None:
    uid = parse_uuid(blocked_id)
    if uid:
        Block.objects.filter(blocker=blocker, blocked_id=uid).delete()


# --- offers -----------------------------------------------------------------------------------


def _offer_ttl() -> timedelta:
    return timedelta(hours=settings.CHAT_OFFER_TTL_HOURS)


def _clean_amount(amount_minor: Any, listing: Listing) -> Money:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationFailed({"amount_minor": ["A whole number of minor units, e.g. 12550."]})
    if amount_minor <= 0:
        raise ValidationFailed({"amount_minor": ["Offer more than zero."]})
    if amount_minor > listing.price_minor:
        raise ValidationFailed({"amount_minor": ["An offer cannot be above the asking price."]})
    return Money(amount_minor, listing.price_currency)


def _offer_message(
    offer: Offer, conversation: Conversation, *, sender: Any, client_id: str, action: str
) -> Message:
    message = _append(
        conversation.pk,
        sender=sender,
        kind=MessageKind.OFFER,
        body="",
        client_id=client_id,
        offer=offer,
        data={"action": action},
    )
    _broadcast_on_commit(
        conversation.pk,
        {
            "type": "chat.offer",
            "offer": offer_payload(offer),
            "message": message_payload(message),
        },
    )
    return message


def _lock_offer(offer_id: Any) -> Offer:
    return Offer.objects.select_for_update(of=("self",)).get(pk=offer_id)


def _expire_if_due(offer: Offer, now: Any) -> None:
    if offer.status == OfferStatus.OFFERED and offer.expires_at <= now:
        offer.status = OfferStatus.EXPIRED
        offer.decided_at = now
        offer.save(update_fields=["status", "decided_at"])
        raise InvalidState("This offer has expired.", state=OfferStatus.EXPIRED)


def offer_make(
    *, conversation: Conversation, buyer: Any, amount_minor: Any, client_id: Any = ""
) -> Offer:
    """The buyer proposes a price. One open offer per conversation; at most
    CHAT_MAX_OFFERS_PER_LISTING offers per buyer per listing."""
    client_id = _clean_client_id(client_id)
    _check_can_send(conversation, buyer)
    if buyer.pk != conversation.buyer_id:
        raise NotAllowed("Only the buyer makes offers; answer with a counter-offer.")
    existing = _existing_by_client_id(conversation, buyer, client_id)
    if existing is not None and existing.offer is not None:
        return existing.offer
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).get(pk=conversation.listing_id)
        if listing.status != ListingStatus.ACTIVE:
            raise InvalidState("This listing is not available for offers.", state=listing.status)
        if not listing.negotiable:
            raise InvalidState(
                "The seller does not take offers on this listing.", state="not_negotiable"
            )
        amount = _clean_amount(amount_minor, listing)
        made = Offer.objects.filter(listing=listing, buyer=buyer).exclude(is_discount=True).count()
        if made >= settings.CHAT_MAX_OFFERS_PER_LISTING:
            raise InvalidState(
                f"You can make at most {settings.CHAT_MAX_OFFERS_PER_LISTING} offers on a listing.",
                state="offer_limit",
            )
        if Offer.objects.filter(conversation=conversation, status=OfferStatus.OFFERED).exists():
            raise InvalidState(
                "There is already an open offer; wait for the answer or withdraw it.",
                state="offer_open",
            )
        offer = Offer.objects.create(
            conversation=conversation,
            listing=listing,
            buyer=buyer,
            made_by=buyer,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            expires_at=timezone.now() + _offer_ttl(),
        )
        _offer_message(offer, conversation, sender=buyer, client_id=client_id, action="offer")
        publish(topic=events.OFFER_MADE, payload=_offer_event(offer))
    return offer


def _offer_event(offer: Offer, **extra: Any) -> dict[str, Any]:
    return {
        "offer_id": str(offer.id),
        "conversation_id": str(offer.conversation_id),
        "listing_id": str(offer.listing_id),
        "buyer_id": str(offer.buyer_id),
        "made_by": str(offer.made_by_id),
        "status": offer.status,
        "amount": offer.amount.to_dict(),
        **extra,
    }


def _conversation_of(offer: Offer) -> Conversation:
    return Conversation.objects.get(pk=offer.conversation_id)


def _check_answerer(offer: Offer, conversation: Conversation, actor: Any) -> None:
    if not _is_participant(conversation, actor):
        raise NotFound("No such offer.")
    if actor.pk == offer.made_by_id:
        raise NotAllowed("You cannot answer your own offer.")


def offer_counter(*, offer: Offer, actor: Any, amount_minor: Any, client_id: Any = "") -> Offer:
    """Answer an open offer with another price; the earlier one is void."""
    client_id = _clean_client_id(client_id)
    conversation = _conversation_of(offer)
    _check_can_send(conversation, actor)
    _check_answerer(offer, conversation, actor)
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).get(pk=offer.listing_id)
        locked = _lock_offer(offer.pk)
        now = timezone.now()
        _expire_if_due(locked, now)
        if locked.status != OfferStatus.OFFERED:
            raise InvalidState(f"This offer is {locked.status}.", state=locked.status)
        if listing.status != ListingStatus.ACTIVE:
            raise InvalidState("This listing is not available for offers.", state=listing.status)
        amount = _clean_amount(amount_minor, listing)
        locked.status = OfferStatus.COUNTERED
        locked.decided_at = now
        locked.save(update_fields=["status", "decided_at"])
        counter = Offer.objects.create(
            conversation=conversation,
            listing=listing,
            buyer_id=locked.buyer_id,
            made_by=actor,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            replaces=locked,
            expires_at=now + _offer_ttl(),
        )
        _offer_message(counter, conversation, sender=actor, client_id=client_id, action="counter")
        publish(
            topic=events.OFFER_COUNTERED, payload=_offer_event(counter, replaces=str(locked.id))
        )
    return counter


def offer_accept(*, offer: Offer, actor: Any) -> Offer:
    """Accept an open offer: binding. Reserves the listing at the agreed price
    (the orders app opens the order from the `chat.offer_accepted` event or
    when the buyer checks out). Locks the listing row first, so of two racing
    acceptances on one listing exactly one wins; the loser gets 409."""
    conversation = _conversation_of(offer)
    _check_can_send(conversation, actor)
    _check_answerer(offer, conversation, actor)
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).get(pk=offer.listing_id)
        locked = _lock_offer(offer.pk)
        if locked.status == OfferStatus.ACCEPTED:
            return locked
        now = timezone.now()
        _expire_if_due(locked, now)
        if locked.status != OfferStatus.OFFERED:
            raise InvalidState(f"This offer is {locked.status}.", state=locked.status)
        if listing.status != ListingStatus.ACTIVE:
            raise InvalidState("This listing is no longer available.", state=listing.status)
        listing_services.listing_reserve(listing=listing, order_ref=f"offer:{locked.id}")
        locked.status = OfferStatus.ACCEPTED
        locked.decided_at = now
        locked.save(update_fields=["status", "decided_at"])
        _offer_message(locked, conversation, sender=actor, client_id="", action="accept")
        publish(topic=events.OFFER_ACCEPTED, payload=_offer_event(locked))
        # Other buyers' open offers on this listing can no longer be accepted.
        for other in (
            Offer.objects.select_for_update(of=("self",))
            .filter(listing=listing, status=OfferStatus.OFFERED)
            .exclude(pk=locked.pk)
        ):
            other.status = OfferStatus.DECLINED
            other.decided_at = now
            other.save(update_fields=["status", "decided_at"])
            _offer_message(
                other,
                Conversation.objects.get(pk=other.conversation_id),
                sender=None,
                client_id="",
                action="sold_to_another",
            )
    return locked


def offer_decline(*, offer: Offer, actor: Any) -> Offer:
    conversation = _conversation_of(offer)
    _check_answerer(offer, conversation, actor)
    with transaction.atomic():
        locked = _lock_offer(offer.pk)
        if locked.status == OfferStatus.DECLINED:
            return locked
        if locked.status != OfferStatus.OFFERED:
            raise InvalidState(f"This offer is {locked.status}.", state=locked.status)
        locked.status = OfferStatus.DECLINED
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        _offer_message(locked, conversation, sender=actor, client_id="", action="decline")
        publish(topic=events.OFFER_DECLINED, payload=_offer_event(locked))
    return locked


def offer_withdraw(*, offer: Offer, actor: Any) -> Offer:
    conversation = _conversation_of(offer)
    if not _is_participant(conversation, actor):
        raise NotFound("No such offer.")
    if actor.pk != offer.made_by_id:
        raise NotAllowed("Only who made an offer can withdraw it.")
    with transaction.atomic():
        locked = _lock_offer(offer.pk)
        if locked.status == OfferStatus.WITHDRAWN:
            return locked
        if locked.status != OfferStatus.OFFERED:
            raise InvalidState(f"This offer is {locked.status}.", state=locked.status)
        locked.status = OfferStatus.WITHDRAWN
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        _offer_message(locked, conversation, sender=actor, client_id="", action="withdraw")
    return locked


def offers_expire_due(*, now: Any = None, batch: int = 500) -> int:
    """Expire open offers past their time (the Celery beat task). Idempotent."""
    now = now or timezone.now()
    expired = 0
    due = list(
        Offer.objects.filter(status=OfferStatus.OFFERED, expires_at__lte=now).values_list(
            "pk", flat=True
        )[:batch]
    )
    for offer_id in due:
        with transaction.atomic():
            locked = _lock_offer(offer_id)
            if locked.status != OfferStatus.OFFERED or locked.expires_at > now:
                continue
            locked.status = OfferStatus.EXPIRED
            locked.decided_at = now
            locked.save(update_fields=["status", "decided_at"])
            _offer_message(
                locked, _conversation_of(locked), sender=None, client_id="", action="expire"
            )
            publish(topic=events.OFFER_EXPIRED, payload=_offer_event(locked))
            expired += 1
    return expired


def discount_offer_to_favouriters(*, listing_id: Any, seller: Any, amount_minor: Any) -> int:
    """A seller's one-off lower price for everyone who favourited the listing:
    one offer (made by the seller) in each favouriter's conversation, which
    the buyer may accept. Returns how many were sent."""
    listing = listing_selectors.listing_get_for_user(listing_id=listing_id, user=seller)
    if listing.seller_id != seller.pk:
        raise NotAllowed("Only the seller can send a discount.")
    if listing.status != ListingStatus.ACTIVE:
        raise InvalidState("Only active listings can be discounted.", state=listing.status)
    amount = _clean_amount(amount_minor, listing)
    if amount.amount_minor >= listing.price_minor:
        raise ValidationFailed({"amount_minor": ["A discount must be below the asking price."]})
    sent = 0
    for buyer in listing_selectors.favouriters_of(listing_id=listing.pk):
        if buyer.pk == seller.pk or _blocked_between(buyer.pk, seller.pk):
            continue
        conversation, _ = Conversation.objects.get_or_create(
            listing=listing, buyer=buyer, defaults={"seller_id": seller.pk}
        )
        with transaction.atomic():
            if Offer.objects.filter(conversation=conversation, status=OfferStatus.OFFERED).exists():
                continue
            if Offer.objects.filter(conversation=conversation, is_discount=True).exists():
                continue  # one-off: once per buyer per listing
            offer = Offer.objects.create(
                conversation=conversation,
                listing=listing,
                buyer=buyer,
                made_by=seller,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                is_discount=True,
                expires_at=timezone.now() + _offer_ttl(),
            )
            _offer_message(offer, conversation, sender=seller, client_id="", action="discount")
            publish(topic=events.OFFER_MADE, payload=_offer_event(offer, discount=True))
            sent += 1
    return sent


def conversation_unread_count(*, conversation: Conversation, user: Any) -> int:
    marker = ReadMarker.objects.filter(conversation=conversation, user=user).first()
    read = marker.last_read_seq if marker else 0
    return (
        Message.objects.filter(conversation=conversation, seq__gt=read).exclude(sender=user).count()
    )


def message_remove(*, message_id: Any, reason: str = "") -> Message:
    """Take a message's content down (a moderator's decision): the body and
    image are cleared and `data["removed"]` records when and why; the row, its
    number and the conversation's order stay, so clients keep their place.
    Idempotent. Takes the message row lock."""
    uid = parse_uuid(message_id)
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=uid).first() if uid else None
        if message is None:
            raise NotFound("No such message.")
        if (message.data or {}).get("removed"):
            return message
        if message.image:
            message.image.delete(save=False)
        message.body = ""
        message.image, message.image_width, message.image_height = "", None, None
        message.data = {**(message.data or {}),
                        "removed": {"at": timezone.now().isoformat(), "reason": reason[:500]}}
        message.save(update_fields=["body", "image", "image_width", "image_height", "data"])
    return message

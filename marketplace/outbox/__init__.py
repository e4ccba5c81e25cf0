"""The transactional outbox: events written with the change that caused them.

Use `publish(topic, payload)` inside the write's transaction. After commit the
row is handed to Celery; if the broker is down the row waits and the periodic
`dispatch_pending` task hands it over later. Handlers are registered per topic
with `subscribe` (from an app's `AppConfig.ready`) and run at most once per
(event, handler) thanks to a unique delivery record.
"""

"""Loaded with `-p tests.pytest_env` before Django is configured: the test
environment's defaults (real PostgreSQL and Redis on loopback). Anything
already set in the environment wins."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("MARKETPLACE_TESTING", "1")
# Threads (health checks, sync_to_async) must not keep connections to the test DB.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
# Unit tests run Celery tasks in-process; integration tests start a real worker.
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test{os.getpid()}")
os.environ.setdefault("CHANNELS_PREFIX", f"asgitest{os.getpid()}")
os.environ.setdefault("MEDIA_ROOT", f"/tmp/marketplace-test-media-{os.getpid()}")
# The unit tests never talk to a search server unless they start one.
os.environ.setdefault("ELASTICSEARCH_URL", "http://127.0.0.1:9")
# Server processes started by tests (Daphne, gunicorn) must not spend their
# CPU training a fraud model in the background; the test process trains one
# in memory on first use.
os.environ.setdefault("FRAUD_TRAIN_IN_BACKGROUND", "0")
os.environ.setdefault("FRAUD_MODEL_PATH", f"/tmp/marketplace-test-models-{os.getpid()}")
# Analytics events go to Redis at once in tests (no per-process batching), so a
# test sees its own events and no background push races the next test.
os.environ.setdefault("ANALYTICS_PUSH_BATCH", "1")

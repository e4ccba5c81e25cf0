"""Privacy-respecting product analytics: an append-only event log written in
bulk off the request path, plus the item-item similarity table the "for you"
feed reads. Part of the kernel: it imports no app; apps call `track()` and it
listens to outbox topics by name."""

"""Transactional outbox, relay, idempotent consumers and the CloudEvents envelope."""

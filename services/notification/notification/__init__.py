"""Notification service: the public 阳光红会 feed, stock alerts and notices, built from events."""

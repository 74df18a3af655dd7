"""The channel registry, keyed by channel name; settings say which are enabled.

A new gateway is added by configuration: either a built-in (``sms``/``wechat`` with their
gateway URL) or ``NOTIFICATION_CHANNEL_PLUGINS=["name=package.module:factory"]``, where
``factory(settings)`` returns a :class:`~notification.channels.base.Channel`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from notification.channels.base import Channel
from notification.channels.email import SmtpEmailChannel
from notification.channels.webhook import GatewayChannel, SignedWebhookChannel
from notification.config import NotificationSettings

ChannelFactory = Callable[[NotificationSettings], Channel]

CHANNEL_FACTORIES: dict[str, ChannelFactory] = {
    "email": SmtpEmailChannel,
    "webhook": SignedWebhookChannel,
    "sms": lambda s: GatewayChannel(s, name="sms", url=s.sms_gateway_url),
    "wechat": lambda s: GatewayChannel(s, name="wechat", url=s.wechat_gateway_url),
}


def plugin_factories(settings: NotificationSettings) -> dict[str, ChannelFactory]:
    found: dict[str, ChannelFactory] = {}
    for entry in settings.channel_plugins:
        name, sep, target = entry.partition("=")
        module_name, colon, attr = target.partition(":")
        if not sep or not colon or not name.strip():
            raise ValueError(f"channel plugin {entry!r}: expected 'name=package.module:factory'")
        factory = getattr(importlib.import_module(module_name.strip()), attr.strip())
        found[name.strip()] = factory
    return found


def build_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """The enabled channels, by name. An unknown name stops the service at start-up."""
    factories = CHANNEL_FACTORIES | plugin_factories(settings)
    channels: dict[str, Channel] = {}
    for name in settings.enabled_channels:
        if name not in factories:
            raise ValueError(
                f"unknown notice channel {name!r}; known: {', '.join(sorted(factories))}"
            )
        channel = factories[name](settings)
        channel.name = name
        channels[name] = channel
    return channels

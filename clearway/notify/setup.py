"""The notifier and its channels, as the settings configure them."""

from __future__ import annotations

from datetime import timedelta

from clearway.domain.event_routing import IdentityOf, Router
from clearway.domain.queue_alerts import QueueAlerts
from clearway.notify.channels import Channel
from clearway.notify.channels.email import EmailChannel
from clearway.notify.channels.mqtt import MqttChannel
from clearway.notify.channels.webhooks import WebhookChannel
from clearway.notify.notifier import Notifier
from clearway.settings import Settings
from clearway.store.base import Stores

LEASE_MARGIN_SEC = 5.0  # a delivery's lease outlasts its attempt's timeout by this much


def configured_channels(settings: Settings) -> frozenset[str]:
    """The channels this server can deliver to: webhooks always; e-mail and MQTT when their server is set."""
    return frozenset(
        name
        for name, on in (("webhook", True), ("email", bool(settings.smtp_url)), ("mqtt", bool(settings.mqtt_url)))
        if on
    )


def build_notifier(settings: Settings, stores: Stores, identity_of: IdentityOf) -> Notifier:
    timeout = settings.webhook_timeout_sec
    channels: list[Channel] = [
        WebhookChannel(
            timeout_sec=timeout, allow_private=settings.webhook_allow_private, per_url=settings.webhook_concurrency
        )
    ]
    if settings.smtp_url:
        channels.append(EmailChannel(settings.smtp_url, settings.smtp_from, timeout))
    if settings.mqtt_url:
        channels.append(MqttChannel(settings.mqtt_url, timeout))
    url = settings.resolved_database_url
    router = Router(
        stores,
        identity_of,
        give_up_after=timedelta(hours=settings.notify_retry_hours),
        digest=timedelta(seconds=settings.email_digest_sec),
    )
    return Notifier(
        stores,
        router,
        channels,
        retry_base_sec=settings.notify_retry_base_sec,
        lease_sec=timeout + LEASE_MARGIN_SEC,
        retention=timedelta(days=settings.notify_retention_days),
        queue_alerts=QueueAlerts(stores, settings.queue_stall_minutes * 60),
        database_url=None if url.startswith("sqlite") else url,
        single_process=url.startswith("sqlite") and settings.workers <= 1,
    )

"""Live notifications: domain events from the outbox to their channels.

The :class:`~clearway.notify.notifier.Notifier` runs in the background of every server process: it sequences new
events (for the live stream), routes them to subscriptions (deliveries), and delivers them over webhooks, e-mail
and MQTT with retries. The live stream (:mod:`clearway.notify.stream`) and the subscriptions API
(:mod:`clearway.notify.api`) are served under ``/events``.
"""

PREFIX = "/events"

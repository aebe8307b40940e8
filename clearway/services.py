"""Everything a request handler may use, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from clearway.auth.authenticator import Authenticator
from clearway.auth.web_sessions import WebSessions
from clearway.blobs import open_blob_store
from clearway.domain.accounts import Accounts
from clearway.domain.allowlists import Allowlists
from clearway.domain.audit import Audit
from clearway.domain.blobs import Blobs
from clearway.domain.dispatch import Dispatch
from clearway.domain.events import Events
from clearway.domain.gateway import Gateway
from clearway.domain.gateway.health import MachineHealth
from clearway.domain.gateway.records import GatewayRecords
from clearway.domain.gateway.request_log import RequestLog
from clearway.domain.gateway.runs import GatewayRuns
from clearway.domain.gateway.tokens import GatewayTokens
from clearway.domain.identity import Identity
from clearway.domain.impersonation import Impersonation
from clearway.domain.models import Models
from clearway.domain.projects import Projects
from clearway.domain.queues import Queues
from clearway.domain.scheduling.manage import Scheduling
from clearway.domain.scheduling.scheduler import Scheduler, Tuning
from clearway.domain.security_alerts import SecurityAlerts
from clearway.domain.sharing import Sharing
from clearway.domain.subscriptions import Subscriptions
from clearway.domain.task_outputs import TaskOutputs
from clearway.domain.tasks import Tasks
from clearway.domain.watchdog import Watchdog
from clearway.domain.workers import Workers
from clearway.notify.notifier import Notifier
from clearway.notify.setup import build_notifier, configured_channels
from clearway.settings import Settings
from clearway.store.base import SlidingCounters, Stores
from clearway.store.process_counters import ProcessSlidingCounters
from clearway.store.sql.database import Database
from clearway.store.sql.locks import HeldLock
from clearway.store.sql.stores import SqlStores


@dataclass
class Services:
    settings: Settings
    stores: Stores
    auth: Authenticator
    projects: Projects
    tasks: Tasks
    events: Events
    models: Models
    blobs: Blobs
    audit: Audit
    accounts: Accounts
    sharing: Sharing
    allowlists: Allowlists
    queues: Queues
    dispatch: Dispatch
    scheduling: Scheduling
    workers: Workers
    watchdog: Watchdog
    sliding_counters: SlidingCounters
    task_outputs: TaskOutputs
    subscriptions: Subscriptions
    notifier: Notifier
    web_sessions: WebSessions
    gateway: Gateway

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        db = database or Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        stores = SqlStores(db)
        tasks = Tasks(stores)
        audit = Audit(stores.audit)
        queues = Queues(stores)
        scheduler = Scheduler(
            stores,
            Tuning(
                report_stale_sec=settings.dispatch_report_stale_sec,
                usage_half_life_sec=settings.dispatch_usage_half_life_sec,
                gpu_busy_percent=settings.dispatch_gpu_busy_percent,
            ),
        )
        workers = Workers(stores, settings.worker_timeout_sec)
        counters = shared_counters(settings, stores)
        blobs = Blobs(stores, open_blob_store(settings), settings.max_upload_bytes)
        audit.listeners.append(SecurityAlerts(stores))
        auth = Authenticator(stores, settings, audit, Impersonation(stores), counters)
        dispatch = Dispatch(stores, tasks, queues, scheduler)
        return cls(
            settings=settings,
            stores=stores,
            auth=auth,
            projects=Projects(stores),
            tasks=tasks,
            events=Events(stores, settings.max_events_per_batch),
            models=Models(stores, tasks),
            blobs=blobs,
            audit=audit,
            accounts=Accounts(stores, audit),
            sharing=Sharing(stores, audit),
            allowlists=Allowlists(stores, audit),
            queues=queues,
            dispatch=dispatch,
            scheduling=Scheduling(stores, scheduler, queues, audit),
            workers=workers,
            watchdog=Watchdog(
                stores,
                worker_timeout_sec=settings.worker_timeout_sec,
                task_timeout_sec=settings.task_timeout_sec,
                retention_days=settings.stats_retention_days,
                lock=HeldLock(db.url, "watchdog"),
            ),
            sliding_counters=counters,
            task_outputs=TaskOutputs(stores, tasks, blobs),
            subscriptions=Subscriptions(
                stores,
                allow_private=settings.webhook_allow_private,
                configured=configured_channels(settings),
                retry_period=timedelta(hours=settings.notify_retry_hours),
            ),
            notifier=build_notifier(settings, stores, lambda user_id: _identity(auth, user_id)),
            web_sessions=WebSessions(stores.web_sessions, auth, settings.web_session_ttl_sec),
            gateway=_gateway(settings, stores, counters, tasks, queues, dispatch, blobs),
        )


def _identity(auth: Authenticator, user_id: str) -> Identity | None:
    """A user's identity with its groups and shares, as its requests would carry it (None once it is gone)."""
    session = auth.sessions.for_user(user_id)
    return session.identity if session else None


def _gateway(
    settings: Settings,
    stores: Stores,
    counters: SlidingCounters,
    tasks: Tasks,
    queues: Queues,
    dispatch: Dispatch,
    blobs: Blobs,
) -> Gateway:
    records = GatewayRecords(stores, tasks, queues, settings.key_cache_sec)
    # A gateway token's calls per minute: counted in this process's memory (no write per call) unless the replicas
    # share counters in Redis.
    in_process = not settings.redis_url
    tokens = GatewayTokens(
        stores,
        ProcessSlidingCounters() if in_process else counters,
        counted_in_process=in_process,
        rate_per_minute=settings.gateway_token_rate_per_minute,
        daily_runs=settings.gateway_token_daily_runs,
        cache_sec=settings.key_cache_sec,
    )
    return Gateway(
        records=records,
        tokens=tokens,
        runs=GatewayRuns(stores, records, tokens, tasks, dispatch, blobs),
        health=MachineHealth(stores, settings.gateway_failures_before_down, settings.gateway_probe_interval_sec),
        log=RequestLog(stores, settings.gateway_log_retention_days, settings.gateway_log_flush_sec),
    )


def shared_counters(settings: Settings, stores: Stores) -> SlidingCounters:
    """The counters replicas share (login throttle, rate limits): Redis when configured, else the database."""
    if settings.redis_url:
        from clearway.store.redis_sliding_counters import RedisSlidingCounters

        return RedisSlidingCounters(settings.redis_url)
    return stores.sliding_counters

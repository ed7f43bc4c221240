"""One typed settings object per process, read from `CITYWATCH_*` environment variables.

Defaults work against the local stack (`make up`). Every environment name is defined here once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citywatch.intake.clock import ClockBounds
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding

ENV_PREFIX = "CITYWATCH_"


class CommonSettings(BaseSettings):
    """What every citywatch process shares: where Kafka is, how topics are named, the local day."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    topic_prefix: str = Field("citywatch", description="Prefix of every topic name; tests use their own")
    timezone: str = Field("Asia/Shanghai", description="Deployment time zone: a standards 'day' is a local day")
    log_level: str = Field("INFO", description="Python log level")
    kafka_request_timeout_ms: int = Field(30_000, description="Kafka client request timeout")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every citywatch Kafka client connects (SASL_SSL on Strimzi)"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = Field("", description="SASL user of this process (SASL_* protocols)")
    kafka_sasl_password_file: str = Field(
        "", description="File holding the SASL password (a mounted Secret); read at start, never logged"
    )
    kafka_ssl_cafile: str = Field("", description="CA certificate bundle that signed the brokers' (SSL, SASL_SSL)")
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replicas of every topic citywatch creates, faust's changelogs included (3 on a cluster)"
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field("citywatch", description="Prefix of every Redis key; tests use their own")
    registry_file: str = Field("registry/wujiang-sample.yaml", description="Site registry YAML")
    max_clock_skew_s: float = Field(
        300.0,
        gt=0,
        description="An observation may be at most this much later than its receipt (the sender's clock skew); "
        "a later one is refused (422 at the gateway, a dead letter at the worker)",
    )
    earliest_observation: date = Field(
        date(2013, 1, 1),
        description="Observations dated (local day) before this are refused: the history horizon (national PM2.5 "
        "monitoring began in 2013)",
    )

    aqi_concentration_rounding: ConcentrationRounding = Field(
        DEFAULT_CONCENTRATION_ROUNDING,
        description="Round concentrations to their reporting precision before the IAQI lookup ('reported') or not "
        "('exact'); see citywatch/standards/tables/hj633.py for why 'reported' is the default",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises with the bad name when unknown
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def clock_bounds(self) -> ClockBounds:
        """When a record may say it was observed, relative to its receipt (`citywatch.intake.clock`)."""
        return ClockBounds(timedelta(seconds=self.max_clock_skew_s), self.earliest_observation, self.zone)


class IngestSettings(CommonSettings):
    """The HTTP ingest gateway (`citywatch ingest`)."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8000
    max_batch_records: int = Field(1000, description="Largest batch one request may carry")
    kafka_ack_timeout_s: float = Field(10.0, description="Longest wait for Kafka's acknowledgement before a 503")
    max_json_depth: int = Field(32, description="Deepest JSON nesting accepted in a body (422 above)")
    max_body_bytes: int = Field(2_000_000, description="Largest request body accepted (413 above)")
    rate_limit_records: int = Field(60_000, description="Records one API key may publish per window (429 above)")
    rate_limit_window_s: int = Field(60, description="Rate-limit window")
    dedup_ttl_s: int = Field(30 * 24 * 3600, description="How long the gateway remembers published event ids")
    rejections_kept: int = Field(1000, description="Recent rejections kept per department for the API")
    receipt_ttl_s: int = Field(
        7 * 24 * 3600, description="How long a receipt (what became of the readings sent under it) is kept"
    )
    request_header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A request's headers must arrive within this time of the connection (or of the "
        "previous response); slower clients are disconnected",
    )
    request_body_timeout_s: float = Field(
        30.0, gt=0, description="A request's body must arrive within this time once its headers did (408 after)"
    )


class WorkerSettings(CommonSettings):
    """The faust stream worker (`citywatch worker`)."""

    worker_app_id: str = Field("citywatch-worker", description="faust app id = consumer group")
    worker_web_host: str = Field("127.0.0.1", description="faust web server bind address")
    worker_web_port: int = Field(6066, description="faust web server port, serves /metrics and /healthz")
    worker_admin_token: str = Field(
        "",
        description="Bearer token for the worker's POST /rules/reload; empty: the endpoint is off (SIGHUP and the "
        "rule-file watch still reload). The port serves nothing else but /metrics and /healthz",
    )
    worker_data_dir: str = Field(".run/worker", description="faust data directory (tables)")
    worker_store: str = Field(
        "rocksdb://",
        description="faust table store URL: rocksdb:// (durable, local cache of the changelog) or memory://",
    )
    worker_session_timeout_s: float = Field(30.0, description="Kafka group session timeout of the worker")
    worker_instance_id: str = Field(
        "",
        description="Static group membership id (e.g. the pod name): a restarted worker gets its partitions back "
        "without a rebalance. Empty: dynamic membership. Must differ between workers of one app.",
    )
    worker_standby_replicas: int = Field(0, description="faust standby replicas of each table partition")
    worker_batch_size: int = Field(1000, description="Kafka records taken per batch by the worker's agents")
    worker_batch_within_s: float = Field(0.2, description="Longest wait to fill a batch (adds to latency)")
    worker_step_readings: int = Field(
        2000,
        ge=1,
        description="Most readings the worker folds before it publishes, waits for the broker and stores: a batch "
        "of feed batches can hold hundreds of thousands, and one long step would starve the group heartbeat",
    )
    worker_sites_per_step: int = Field(
        1000,
        ge=1,
        description="Sites the staleness timer judges before it lets other work run: with 100,000 sites one pass "
        "takes seconds, and /metrics and the agents must answer meanwhile",
    )
    worker_lag_interval_s: float = Field(
        5.0, description="How often the consumer-lag gauge is refreshed and the worker checks itself for a stall"
    )
    worker_stall_after_s: float = Field(
        30.0,
        description="Records waiting but none read for this long: log it and resume fetching (streams/faust_workarounds/stall.py)",
    )
    worker_stall_exit_after_s: float = Field(
        120.0,
        description="Still stalled after resuming (at 1×) and rejoining the group (at 2× worker_stall_after_s): "
        "exit (code 70) so that the supervisor restarts the worker",
    )
    worker_batch_retry_s: float = Field(
        120.0,
        gt=0,
        description="How long a batch whose outputs the broker would not take (a leader election, too few in-sync "
        "replicas) is tried again, in order, before the worker exits (code 70) so that its supervisor restarts it",
    )
    worker_rocksdb_block_cache_mb: int = Field(
        32, description="RocksDB block cache per table partition (faust's default is 2 GiB)"
    )
    worker_rocksdb_write_buffer_mb: int = Field(
        8, description="RocksDB memtable size per table partition (faust's default is 64 MiB, 3 of them)"
    )
    district: str = Field(
        "wj-district", description="District id (the registry area of the district): the site of district indicators"
    )
    rules_dir: str = Field("rules", description="Directory of YAML rule files")
    worker_rules_check_interval_s: float = Field(
        10.0, description="How often the worker looks at the rule files' modification times (hot reload; also SIGHUP)"
    )
    worker_staleness_interval_s: float = Field(
        60.0,
        description="How often (real seconds) the worker judges staleness rules; with an accelerated clock, "
        "one tick covers interval × CITYWATCH_CLOCK_SPEED of processing time",
    )
    clock_start: str = Field(
        "",
        description="Processing clock start, ISO 8601 with offset (e.g. the simulator's start); empty: real time",
    )
    clock_speed: float = Field(
        1.0, gt=0, description="Processing-clock seconds per real second (like the simulator's speed)"
    )
    clock_follows_events: bool = Field(
        False,
        description="Demo: the processing clock is the newest event time processed (an accelerated simulator's "
        "clock), so staleness rules judge silence against the other sites' data; not with clock_start/speed",
    )
    topic_partitions: int = Field(4, description="Partitions of the topics the worker creates")

    @field_validator("clock_start")
    @classmethod
    def _aware_start(cls, value: str) -> str:
        if value and datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("clock_start needs a UTC offset, e.g. 2026-03-01T00:00:00+08:00")
        return value

    @property
    def clock_start_at(self) -> datetime | None:
        return datetime.fromisoformat(self.clock_start) if self.clock_start else None

    def rocksdb_options(self) -> dict[str, int]:
        """faust's RocksDB options for the worker's table; see docs/architecture.md for memory per worker."""
        mb = 1024 * 1024
        return {
            "block_cache_size": self.worker_rocksdb_block_cache_mb * mb,
            "write_buffer_size": self.worker_rocksdb_write_buffer_mb * mb,
            "max_write_buffer_number": 2,
            "target_file_size_base": 16 * mb,
            "max_open_files": 256,
        }


class AlertSettings(CommonSettings):
    """The alert service (`citywatch alerts`)."""

    alertmanager_url: str = Field("http://127.0.0.1:9093", description="Alertmanager base URL; empty disables")
    alerts_host: str = "127.0.0.1"
    alerts_port: int = 8010
    alerts_group_id: str = Field("citywatch-alerts", description="Kafka consumer group of the alert service")
    resend_interval_s: float = Field(60.0, description="Re-send firing alerts to Alertmanager this often")
    webhook_urls: str = Field("", description="Comma-separated URLs that receive every firing and resolved transition")
    webhook_secrets: str = Field(
        "",
        description="Comma-separated Standard Webhooks secrets (whsec_<base64>), one per URL in the same order: each "
        "receiver's POSTs are signed with its own; empty: unsigned",
    )
    grafana_url: str = Field("", description="Grafana base URL for alert annotations; empty skips them")
    grafana_token: str = Field("", description="Grafana service-account token for annotations")
    history_retention_days: float = Field(400.0, description="Keep alert history (transitions, acks) this long")
    ack_max_days: float = Field(
        7.0, description="An acknowledgement's Alertmanager silence lasts until the alert resolves, at most this long"
    )
    runbook_base_url: str = Field(
        "http://127.0.0.1:8010/runbooks/",
        description="Where on-call opens runbooks: a rule's runbook_url (docs/rules.md#…) becomes this base + "
        "rules.md#…; the alert service serves the repository's docs/ there; point it at your docs site",
    )
    maintenance_max_days: float = Field(
        7.0,
        gt=0,
        description="The longest maintenance window (longer ones are refused with 422): a site muted for "
        "longer is out of service, which belongs in the registry, not a silence",
    )
    maintenance_max_lead_days: float = Field(90.0, gt=0, description="How far ahead a maintenance window may start")

    alertmanager_extra_labels: str = Field(
        "", description="Labels added to every alert and silence in Alertmanager, as name=value,name=value"
    )

    @field_validator("alertmanager_extra_labels")
    @classmethod
    def _label_pairs(cls, value: str) -> str:
        bad = [p for p in value.split(",") if p.strip() and "=" not in p]
        if bad:
            raise ValueError(f"expected name=value pairs separated by commas; {bad[0]!r} has no '='")
        return value

    @property
    def alertmanager_label_map(self) -> dict[str, str]:
        pairs = [p.split("=", 1) for p in self.alertmanager_extra_labels.split(",") if p.strip()]
        return {name.strip(): value.strip() for name, value in pairs}

    @property
    def webhook_url_list(self) -> list[str]:
        return [url.strip() for url in self.webhook_urls.split(",") if url.strip()]

    @property
    def webhook_secret_list(self) -> list[str]:
        """One secret per webhook URL, in order ("" for a receiver sent unsigned)."""
        if not self.webhook_secrets:
            return [""] * len(self.webhook_url_list)
        return [secret.strip() for secret in self.webhook_secrets.split(",")]

    @model_validator(mode="after")
    def _a_secret_per_receiver(self) -> AlertSettings:
        secrets = self.webhook_secret_list
        if len(secrets) != len(self.webhook_url_list):
            raise ValueError(
                f"webhook_secrets: {len(secrets)} secrets for {len(self.webhook_url_list)} webhook URLs; give one per "
                "URL, in the same order (an empty entry sends that receiver unsigned)"
            )
        return self


class SimulatorSettings(CommonSettings):
    """The feed simulator (`citywatch simulate`)."""

    ingest_url: str = Field("http://127.0.0.1:8000", description="Ingest gateway the simulator posts to")
    simulator_keys_file: str = Field(
        ".run/local/simulator-keys.json", description="JSON object: department id -> API key the simulator uses"
    )
    simulator_metrics_host: str = Field("127.0.0.1", description="Bind address of the simulator's /metrics")
    simulator_metrics_port: int = 8020


class ToolEnvironment(BaseSettings):
    """What the command-line tools and the local stack read from the environment, beside the processes' settings."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    api_key: str = Field("", description="`citywatch oncall` and `publish`: the API key they send")
    alerts_url: str = Field("http://127.0.0.1:8010", description="`citywatch oncall`: the alert service")
    run_root: str = Field("", description="Where the local stacks keep their state (default: .run/ in the checkout)")
    test_port_offset: int = Field(0, description="Shifts the test stack's ports: two test stacks on one machine")
    bench_traceback: bool = Field(False, description="`citywatch bench`: print a failed part's traceback")


SETTINGS = (CommonSettings, IngestSettings, WorkerSettings, AlertSettings, SimulatorSettings, ToolEnvironment)


def env_name(setting: str) -> str:
    """The environment variable of a setting: `env_name("worker_data_dir")` is `CITYWATCH_WORKER_DATA_DIR`.

    Tools that start processes or read the environment name a variable through this, so a misspelt or removed
    setting fails where it is written instead of being silently ignored by the process it was meant for."""
    if not any(setting in cls.model_fields for cls in SETTINGS):
        raise KeyError(f"no citywatch setting {setting!r}: the settings are the fields of citywatch/settings.py")
    return ENV_PREFIX + setting.upper()


@lru_cache
def get_ingest_settings() -> IngestSettings:
    return IngestSettings()


@lru_cache
def get_worker_settings() -> WorkerSettings:
    return WorkerSettings()


@lru_cache
def get_alert_settings() -> AlertSettings:
    return AlertSettings()

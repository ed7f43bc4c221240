"""Kafka topic names: one home. Every name carries the deployment's prefix so tests can isolate themselves."""

from __future__ import annotations

from dataclasses import dataclass

# The worker's faust table: every site's state (site ids are unique across feeds) and each district's, keyed
# "district:<id>" (and its parts, citywatch/indicators/district_parts.py); its compacted changelog topic is named
# by faust from the app id.
STATE_TABLE = "state"
WORKER_TABLES = (STATE_TABLE,)


def changelog(app_id: str, table: str) -> str:
    """faust's name for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"


@dataclass(frozen=True)
class Topics:
    prefix: str = "citywatch"

    def feed(self, feed: str, department: str) -> str:
        """Readings of one feed published by one department: Kafka ACLs let only that department write it."""
        return f"{self.prefix}.feed.{feed}.{department}"

    def department_of(self, topic: str) -> str:
        """The publishing department encoded in a feed topic's name."""
        return topic.rsplit(".", 1)[-1]

    @property
    def indicators(self) -> str:
        """Computed indicators (key: indicator id + site), read by rule evaluation and reports."""
        return f"{self.prefix}.indicators"

    @property
    def contributions(self) -> str:
        """Per-site figures for the district stage (key: district id), so district indicators stay right when
        several workers split the sites."""
        return f"{self.prefix}.contributions"

    @property
    def rule_evaluations(self) -> str:
        """One record per rule evaluated on an indicator (key: alert fingerprint)."""
        return f"{self.prefix}.rule-evaluations"

    @property
    def alerts(self) -> str:
        """Alert lifecycle transitions published by the alert service (key: alert fingerprint)."""
        return f"{self.prefix}.alerts"

    @property
    def dead_letter(self) -> str:
        """Rejected records with the reason, never dropped (key: feed)."""
        return f"{self.prefix}.dead-letter"

    @property
    def receipts(self) -> str:
        """The worker's verdict on every reading published under a receipt (key: receipt id), which the gateway
        serves to the publisher (`citywatch.schemas.receipt`)."""
        return f"{self.prefix}.receipts"

    def all(self) -> list[str]:
        """The topics every deployment has; feed topics depend on the registry's departments."""
        return [
            self.indicators,
            self.contributions,
            self.rule_evaluations,
            self.alerts,
            self.dead_letter,
            self.receipts,
        ]

"""Event-driven orchestration: data-ready events, dependency rules and the sensor that joins them
(ADR-0020)."""

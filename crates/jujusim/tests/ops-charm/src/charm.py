#!/usr/bin/env python3
"""A plain ops charm: reads config and relation data, sets status, talks to a Rust charm."""

import logging

import ops

logger = logging.getLogger(__name__)


class PingerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.start, self._on_config)
        framework.observe(self.on.config_changed, self._on_config)
        framework.observe(self.on.ping_relation_joined, self._on_joined)
        framework.observe(self.on.ping_relation_changed, self._on_changed)

    def _on_config(self, event: ops.EventBase):
        self.unit.status = ops.WaitingStatus(f"{self.config['greeting']}: waiting for pong")

    def _on_joined(self, event: ops.RelationJoinedEvent):
        greeting = self.config["greeting"]
        event.relation.data[self.unit]["unit-greeting"] = greeting
        if self.unit.is_leader():
            event.relation.data[self.app]["request"] = greeting
        logger.info("asked %s for a pong", event.app.name)

    def _on_changed(self, event: ops.RelationChangedEvent):
        reply = event.relation.data[event.app].get("reply")
        if not reply:
            return
        self.unit.status = ops.ActiveStatus(f"got {reply}")
        if self.unit.is_leader():
            self.app.status = ops.ActiveStatus("exchanged")


if __name__ == "__main__":
    ops.main(PingerCharm)

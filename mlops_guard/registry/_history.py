"""Alias events and where they live: one registered-model tag per event in MLflow itself.

Each move of ``champion`` or ``challenger`` is written as a tag on the registered model,
``mlops_guard.alias_history.<seq>`` (``seq`` zero-padded, so the MLflow UI lists them in order),
whose value is the event as compact JSON. Registered-model tags live in the registry's database,
so the history survives restarts, is served by any tracking server and shows under "Tags" on the
model's page. MLflow caps a registry tag value at 100,000 characters; an event is a few hundred,
and the reason is cut at :data:`MAX_REASON_CHARS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "HISTORY_TAG_PREFIX",
    "MAX_REASON_CHARS",
    "AliasAction",
    "AliasEvent",
    "decode_history",
    "encode_event",
    "promotion_stack",
]

HISTORY_TAG_PREFIX = "mlops_guard.alias_history."
# Far below MLflow's 100,000-character registry tag limit: the reason is for humans in a UI.
MAX_REASON_CHARS = 2000
_SEQ_WIDTH = 6

AliasAction = Literal["promote", "rollback", "set_challenger", "remove_challenger"]


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias: who moved it, from which version to which, when and why.

    ``at`` is RFC 3339 UTC. ``from_version`` is None when the alias did not exist before;
    ``to_version`` is None when it was removed. ``seq`` orders events within a model.
    """

    model: str
    alias: str
    action: AliasAction
    from_version: str | None
    to_version: str | None
    reason: str
    actor: str
    at: str
    alert_fingerprint: str | None = None
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``rollback --json``, ``registry history --json``)."""
        return asdict(self)

    @property
    def tag_key(self) -> str:
        return f"{HISTORY_TAG_PREFIX}{self.seq:0{_SEQ_WIDTH}d}"


def encode_event(event: AliasEvent) -> tuple[str, str]:
    """The (tag key, tag value) that stores ``event``."""
    body = event.to_dict()
    body.pop("model")  # the tag sits on the model already
    body.pop("seq")  # and its key carries the sequence number
    return event.tag_key, json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode_history(model: str, tags: Mapping[str, str]) -> list[AliasEvent]:
    """Every alias event among a registered model's tags, oldest first.

    A tag that is not valid JSON (edited by hand in the UI, say) is skipped rather than making
    the whole history unreadable.
    """
    events: list[AliasEvent] = []
    for key, value in tags.items():
        if not key.startswith(HISTORY_TAG_PREFIX):
            continue
        suffix = key[len(HISTORY_TAG_PREFIX) :]
        if not suffix.isdigit():
            continue
        try:
            body = json.loads(value)
            events.append(
                AliasEvent(
                    model=model,
                    alias=str(body["alias"]),
                    action=body["action"],
                    from_version=body.get("from_version"),
                    to_version=body.get("to_version"),
                    reason=str(body.get("reason", "")),
                    actor=str(body.get("actor", "")),
                    at=str(body["at"]),
                    alert_fingerprint=body.get("alert_fingerprint"),
                    seq=int(suffix),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(events, key=lambda event: event.seq)


def promotion_stack(events: Iterable[AliasEvent]) -> list[AliasEvent]:
    """The champion promotions not yet undone, oldest first (the top is the last).

    A promotion pushes; a rollback pops promotions until the top is the one that made the
    rollback's target champion (one pop for a plain rollback, several for ``--to`` an older
    version, all of them for ``--to`` a version no promotion on the stack made). A rollback is
    never pushed, so it is never itself rolled back to.
    """
    stack: list[AliasEvent] = []
    for event in events:
        if event.alias != "champion":
            continue
        if event.action == "promote":
            stack.append(event)
        elif event.action == "rollback":
            # Pop at least the top: it is the promotion being undone.
            if stack:
                stack.pop()
            while stack and stack[-1].to_version != event.to_version:
                stack.pop()
    return stack

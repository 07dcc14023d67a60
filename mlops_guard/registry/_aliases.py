"""Alias moves with compare-and-set: promote, challenger, rollback, and reads of the state.

Every move follows the same steps: read the alias (the decision is made on that version),
take the alias lock (:mod:`mlops_guard.registry._lock`), read again and give up with
:class:`AliasConflict` if it moved in between, move the alias, record the event
(:mod:`mlops_guard.registry._history`). If the record cannot be written the alias is moved
back, so a move never goes unrecorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlops_guard.errors import (
    AliasConflict,
    GuardError,
    NothingToRollBack,
    RegistryUnavailable,
    UsageError,
)
from mlops_guard.registry._client import RegistryClient
from mlops_guard.registry._history import (
    HISTORY_TAG_PREFIX,
    MAX_REASON_CHARS,
    AliasAction,
    AliasEvent,
    decode_history,
    encode_event,
    promotion_stack,
)
from mlops_guard.registry._lock import alias_lock

if TYPE_CHECKING:
    from mlflow.entities.model_registry import RegisteredModel

    from mlops_guard.settings import GuardSettings

__all__ = [
    "ALIAS_MOVED_EVENT",
    "CHALLENGER",
    "CHAMPION",
    "aliases",
    "get_challenger",
    "get_champion",
    "history",
    "promote",
    "remove_challenger",
    "rollback",
    "set_challenger",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
#: The Prefect event of every alias move (promote, rollback, challenger set or removed), on
#: resource ``mlops_guard.model.<model>``. Payload: model, alias, action, from_version,
#: to_version, reason, actor, alert_fingerprint, seq, at, and the flow run and trace ids when
#: known; a key whose value is None (no version before a first promotion, none after a removal,
#: no alert) is left out.
ALIAS_MOVED_EVENT = "mlops_guard.alias.moved"

_log = logging.getLogger("mlops_guard.registry")
_RUNLOG_EVENTS: dict[str, str] = {
    "promote": "registry.promoted",
    "rollback": "registry.rolled_back",
    "set_challenger": "registry.challenger_set",
    "remove_challenger": "registry.challenger_removed",
}


def _settings(settings: GuardSettings | None) -> GuardSettings:
    from mlops_guard.settings import resolve_settings

    return resolve_settings(settings)


def _alias(rm: RegisteredModel, name: str) -> str | None:
    value = rm.aliases.get(name)
    return None if value is None else str(value)


def _next_seq(rm: RegisteredModel) -> int:
    seqs = [
        int(key[len(HISTORY_TAG_PREFIX) :])
        for key in rm.tags
        if key.startswith(HISTORY_TAG_PREFIX) and key[len(HISTORY_TAG_PREFIX) :].isdigit()
    ]
    return max(seqs, default=0) + 1


def _now() -> str:
    from mlops_guard.runlog import rfc3339_now

    return rfc3339_now()


def _check_unmoved(model: str, alias: str, decided_on: str | None, now: str | None) -> None:
    if decided_on != now:
        raise AliasConflict(
            f"{alias} of {model!r} moved from version {decided_on} to {now} while this move "
            f"was decided (already rolled back or promoted by another process)",
            hint="read 'mlops-guard registry history' and decide again; nothing was changed",
        )


def _observe(event: AliasEvent, settings: GuardSettings) -> None:
    """Metrics, run log and Prefect event for a move that happened; best-effort, never raises."""
    try:
        from mlops_guard.metrics import get_metrics

        metrics = get_metrics()
        metrics.alias_moves_total.labels(
            model=event.model, alias=event.alias, action=event.action
        ).inc()
        if event.alias == CHAMPION and event.to_version and event.to_version.isdigit():
            metrics.champion_version.labels(model=event.model).set(int(event.to_version))
    except Exception as exc:  # noqa: BLE001 - observability never breaks the move
        _log.warning("alias-move metrics not updated (%s)", exc)
    from mlops_guard.runlog import log_event

    log_event(
        _RUNLOG_EVENTS[event.action],
        settings=settings,
        model=event.model,
        model_version=event.to_version,
        alias=event.alias,
        action=event.action,
        from_version=event.from_version,
        to_version=event.to_version,
        reason=event.reason,
        actor=event.actor,
        alert_fingerprint=event.alert_fingerprint,
        seq=event.seq,
    )
    _emit_moved(event)


def _emit_moved(event: AliasEvent) -> None:
    from mlops_guard._events import GuardEvent, emit
    from mlops_guard.runlog import current_context

    context = current_context()
    emit(
        GuardEvent(
            event=ALIAS_MOVED_EVENT,
            resource_id=f"mlops_guard.model.{event.model}",
            resource_name=event.model,
            payload={
                "model": event.model,
                "alias": event.alias,
                "action": event.action,
                "from_version": event.from_version,
                "to_version": event.to_version,
                "reason": event.reason,
                "actor": event.actor,
                "alert_fingerprint": event.alert_fingerprint,
                "seq": event.seq,
                "at": event.at,
                "flow_run_id": context.get("flow_run_id"),
                "trace_id": context.get("trace_id"),
            },
        )
    )


def _apply(client: RegistryClient, event: AliasEvent) -> None:
    """Move the alias, then record it (in a span of its own, for trace checks)."""
    from mlops_guard.traces._spans import guard_span

    attributes = {"mlops_guard.model": event.model, "mlops_guard.alias": event.alias}
    if event.to_version is not None:
        attributes["mlops_guard.model_version"] = str(event.to_version)
    with guard_span(
        "registry.alias_move", settings=client.settings, kind="client", attributes=attributes
    ):
        _move(client, event)


def _move(client: RegistryClient, event: AliasEvent) -> None:
    """Move the alias, then record it; undo the move if the record cannot be written."""
    if event.to_version is None:
        client.delete_alias(event.model, event.alias)
    else:
        client.set_alias(event.model, event.alias, event.to_version)
    key, value = encode_event(event)
    try:
        client.set_model_tag(event.model, key, value)
    except GuardError as exc:
        try:
            if event.from_version is None:
                client.delete_alias(event.model, event.alias)
            else:
                client.set_alias(event.model, event.alias, event.from_version)
        except GuardError as undo_exc:
            raise RegistryUnavailable(
                f"{event.alias} of {event.model!r} moved to {event.to_version} but the move "
                f"could not be recorded nor undone ({undo_exc.message})",
                hint=f"set alias {event.alias} back to {event.from_version} in the MLflow UI",
            ) from exc
        raise RegistryUnavailable(
            f"the move of {event.alias} of {event.model!r} to {event.to_version} could not "
            f"be recorded ({exc.message})",
            hint="the alias was moved back; retry when MLflow is healthy",
        ) from exc


def _event(
    rm: RegisteredModel,
    model: str,
    alias: str,
    action: AliasAction,
    *,
    moved: tuple[str | None, str | None],
    reason: str,
    actor: str,
    alert_fingerprint: str | None,
    seq: int | None = None,
) -> AliasEvent:
    return AliasEvent(
        model=model,
        alias=alias,
        action=action,
        from_version=moved[0],
        to_version=moved[1],
        reason=reason[:MAX_REASON_CHARS],
        actor=actor,
        at=_now(),
        alert_fingerprint=alert_fingerprint,
        seq=seq if seq is not None else _next_seq(rm),
    )


def _handled(events: list[AliasEvent], fingerprint: str | None) -> AliasEvent | None:
    if not fingerprint:
        return None
    for event in events:
        if event.alert_fingerprint == fingerprint and event.action == "rollback":
            return event
    return None


def promote(
    model: str,
    version: str,
    *,
    reason: str,
    actor: str,
    settings: GuardSettings | None = None,
    alert_fingerprint: str | None = None,
    expected_champion: str | None = None,
) -> AliasEvent:
    """Make ``version`` the champion of ``model``; returns the recorded event.

    Compare-and-set: the move happens only if the champion is still the version read when the
    call started (or ``expected_champion``), else :class:`AliasConflict`. Promoting the version
    that is champion already moves nothing and returns the promotion that made it champion. If
    the challenger alias points at ``version`` it is removed (and recorded) in the same step.

    >>> promote("churn", "3", reason="canary passed", actor="prefect:canary_flow")  # doctest: +SKIP
    AliasEvent(model='churn', alias='champion', action='promote', from_version='2', ...)

    Raises :class:`ModelNotFound`, :class:`VersionNotFound`, :class:`AliasConflict`,
    :class:`RegistryUnavailable`.
    """
    settings = _settings(settings)
    version = str(version)
    client = RegistryClient(settings)
    seen = client.registered_model(model)
    client.model_version(model, version, model_known=True)
    decided_on = expected_champion if expected_champion is not None else _alias(seen, CHAMPION)
    with alias_lock(model, settings):
        rm = client.registered_model(model)
        current = _alias(rm, CHAMPION)
        _check_unmoved(model, CHAMPION, decided_on, current)
        events = decode_history(model, rm.tags)
        stack = promotion_stack(events)
        if current == version and stack and stack[-1].to_version == version:
            return stack[-1]
        event = _event(
            rm,
            model,
            CHAMPION,
            "promote",
            moved=(current, version),
            reason=reason,
            actor=actor,
            alert_fingerprint=alert_fingerprint,
        )
        _apply(client, event)
        cleared: AliasEvent | None = None
        if _alias(rm, CHALLENGER) == version:
            cleared = _event(
                rm,
                model,
                CHALLENGER,
                "remove_challenger",
                moved=(version, None),
                reason=f"promoted to champion: {reason}",
                actor=actor,
                alert_fingerprint=None,
                seq=event.seq + 1,
            )
            _apply(client, cleared)
    _observe(event, settings)
    if cleared is not None:
        _observe(cleared, settings)
    return event


def set_challenger(
    model: str,
    version: str,
    *,
    reason: str,
    actor: str,
    settings: GuardSettings | None = None,
) -> AliasEvent:
    """Point the ``challenger`` alias at ``version`` (compare-and-set, recorded).

    Raises :class:`UsageError` when ``version`` is the champion, and the registry errors of
    :func:`promote`.
    """
    settings = _settings(settings)
    version = str(version)
    client = RegistryClient(settings)
    seen = client.registered_model(model)
    client.model_version(model, version, model_known=True)
    before = _alias(seen, CHALLENGER)
    with alias_lock(model, settings):
        rm = client.registered_model(model)
        current = _alias(rm, CHALLENGER)
        _check_unmoved(model, CHALLENGER, before, current)
        if _alias(rm, CHAMPION) == version:
            raise UsageError(
                f"version {version} of {model!r} is the champion; it cannot also be challenger",
                hint="register a new version and make that the challenger",
            )
        event = _event(
            rm,
            model,
            CHALLENGER,
            "set_challenger",
            moved=(current, version),
            reason=reason,
            actor=actor,
            alert_fingerprint=None,
        )
        _apply(client, event)
    _observe(event, settings)
    return event


def remove_challenger(
    model: str,
    *,
    reason: str,
    actor: str,
    settings: GuardSettings | None = None,
    expected_challenger: str | None = None,
) -> AliasEvent | None:
    """Remove the ``challenger`` alias (recorded); None when there was none to remove."""
    settings = _settings(settings)
    client = RegistryClient(settings)
    decided_on = (
        expected_challenger
        if expected_challenger is not None
        else _alias(client.registered_model(model), CHALLENGER)
    )
    with alias_lock(model, settings):
        rm = client.registered_model(model)
        current = _alias(rm, CHALLENGER)
        _check_unmoved(model, CHALLENGER, decided_on, current)
        if current is None:
            return None
        event = _event(
            rm,
            model,
            CHALLENGER,
            "remove_challenger",
            moved=(current, None),
            reason=reason,
            actor=actor,
            alert_fingerprint=None,
        )
        _apply(client, event)
    _observe(event, settings)
    return event


def _rollback_target(
    model: str, events: list[AliasEvent], current: str | None, to_version: str | None
) -> str:
    if current is None:
        raise NothingToRollBack(
            f"model {model!r} has no champion to roll back",
            hint=f"promote a version first: mlops-guard promote {model} VERSION",
        )
    if to_version is not None:
        if to_version == current:
            raise UsageError(
                f"version {to_version} is already the champion of {model!r}",
                hint="pass --to a different version, or leave --to out to undo the last promotion",
            )
        return to_version
    stack = promotion_stack(events)
    if not stack or stack[-1].from_version is None or stack[-1].from_version == current:
        raise NothingToRollBack(
            f"no promotion of {model!r} left to undo; version {current} stays champion",
            hint=f"roll forward with 'mlops-guard promote {model} VERSION' or use --to VERSION",
        )
    return stack[-1].from_version


def rollback(
    model: str,
    *,
    reason: str,
    actor: str,
    to_version: str | None = None,
    alert_fingerprint: str | None = None,
    settings: GuardSettings | None = None,
    expected_champion: str | None = None,
) -> AliasEvent:
    """Undo the most recent promotion of ``model`` not yet undone, or move back ``to_version``.

    Idempotent per alert: if an earlier rollback carried ``alert_fingerprint``, that event is
    returned and nothing moves. Compare-and-set: if the champion moved between the decision
    (the champion read when the call started, or ``expected_champion``) and the move,
    :class:`AliasConflict` says it was already rolled back.

    >>> event = rollback("churn", reason="error rate 12%", actor="alertmanager",
    ...                  alert_fingerprint="a1b2c3")  # doctest: +SKIP
    >>> event.from_version, event.to_version  # doctest: +SKIP
    ('3', '2')

    Raises :class:`NothingToRollBack`, :class:`ModelNotFound`, :class:`VersionNotFound`,
    :class:`AliasConflict`, :class:`RegistryUnavailable`.
    """
    settings = _settings(settings)
    client = RegistryClient(settings)
    rm = client.registered_model(model)
    earlier = _handled(decode_history(model, rm.tags), alert_fingerprint)
    if earlier is not None:
        _log_duplicate(earlier, settings)
        return earlier
    if to_version is not None:
        to_version = str(to_version)
        client.model_version(model, to_version, model_known=True)
    decided_on = expected_champion if expected_champion is not None else _alias(rm, CHAMPION)
    with alias_lock(model, settings):
        rm = client.registered_model(model)
        events = decode_history(model, rm.tags)
        # Checked again under the lock: the same alert may be delivered twice at once.
        earlier = _handled(events, alert_fingerprint)
        if earlier is not None:
            _log_duplicate(earlier, settings)
            return earlier
        current = _alias(rm, CHAMPION)
        _check_unmoved(model, CHAMPION, decided_on, current)
        target = _rollback_target(model, events, current, to_version)
        client.model_version(model, target, model_known=True)
        event = _event(
            rm,
            model,
            CHAMPION,
            "rollback",
            moved=(current, target),
            reason=reason,
            actor=actor,
            alert_fingerprint=alert_fingerprint,
        )
        _apply(client, event)
    _observe(event, settings)
    return event


def _log_duplicate(earlier: AliasEvent, settings: GuardSettings) -> None:
    from mlops_guard.runlog import log_event

    log_event(
        "registry.rollback_duplicate",
        settings=settings,
        model=earlier.model,
        alert_fingerprint=earlier.alert_fingerprint,
        handled_at=earlier.at,
        seq=earlier.seq,
    )


def history(model: str, *, settings: GuardSettings | None = None) -> list[AliasEvent]:
    """Every recorded alias move of ``model``, oldest first. Raises :class:`ModelNotFound`."""
    settings = _settings(settings)
    rm = RegistryClient(settings).registered_model(model)
    return decode_history(model, rm.tags)


def aliases(model: str, settings: GuardSettings | None = None) -> dict[str, str]:
    """The model's aliases as ``{alias: version}``. Raises :class:`ModelNotFound`."""
    rm = RegistryClient(_settings(settings)).registered_model(model)
    return {str(name): str(version) for name, version in rm.aliases.items()}


def get_champion(model: str, settings: GuardSettings | None = None) -> str | None:
    """The champion's version of ``model``, or None. Raises :class:`ModelNotFound`."""
    value = aliases(model, settings).get(CHAMPION)
    return str(value) if value is not None else None


def get_challenger(model: str, settings: GuardSettings | None = None) -> str | None:
    """The challenger's version of ``model``, or None. Raises :class:`ModelNotFound`."""
    value = aliases(model, settings).get(CHALLENGER)
    return str(value) if value is not None else None

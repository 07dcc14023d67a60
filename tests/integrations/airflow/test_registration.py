"""How Airflow and mlops-guard find the integration in an environment where it is installed:
the provider (``apache_airflow_provider``), the plugin carrying the listener
(``airflow.plugins``), the event sink (``mlops_guard.event_sinks``) and the ``airflow``
rollback mode (``mlops_guard.rollback_modes``), each from the package's entry points."""

from __future__ import annotations

import importlib.util


def test_this_environment_has_airflow_and_no_prefect() -> None:
    assert importlib.util.find_spec("airflow") is not None
    assert importlib.util.find_spec("prefect") is None


def test_airflow_lists_the_provider() -> None:
    from airflow.providers_manager import ProvidersManager

    provider = ProvidersManager().providers["mlops-guard"]
    assert provider.data["name"] == "mlops-guard"
    assert provider.data["operators"][0]["python-modules"] == [
        "mlops_guard.integrations.airflow._operators"
    ]


def test_the_plugin_registers_the_listener_with_airflow() -> None:
    from airflow.sdk.listener import get_listener_manager

    from mlops_guard.integrations.airflow import _listener

    # The task runner's listener manager, built from the installed plugins.
    assert get_listener_manager().pm.is_registered(_listener)


def test_the_sink_is_found_and_is_quiet_outside_a_task() -> None:
    from mlops_guard import _events
    from mlops_guard.integrations.airflow._events import AirflowEvents

    (sink,) = [s for s in _events.sinks() if isinstance(s, AirflowEvents)]
    assert sink.run_context() == {}
    assert sink.ready({}) is False
    assert _events.publish_markdown("k", "# report") is False


def test_the_receiver_knows_the_airflow_mode() -> None:
    from mlops_guard.alerts import AlertsSettings, mode_names, rollback_mode
    from mlops_guard.integrations.airflow import AIRFLOW_MODE

    assert "airflow" in mode_names()
    assert rollback_mode("airflow") is AIRFLOW_MODE
    assert AlertsSettings(rollback_mode="airflow").rollback_mode == "airflow"


def test_every_exported_name_resolves() -> None:
    """tests/test_public_api.py for this package, which only imports where Airflow is."""
    import mlops_guard.integrations.airflow as package

    assert len(package.__all__) == len(set(package.__all__))
    assert [name for name in package.__all__ if not hasattr(package, name)] == []

"""Alarms proven against their signal: offline evaluators of the clouds' alarm and alert
definitions, and generators of the signals the clouds document.

An evaluator takes the inputs a plan recorded for an alarm (``RecordedResource.inputs``) and a
synthetic time series, and returns a :class:`Timeline` of its state:

- :func:`cloudwatch.evaluate_alarm`: CloudWatch metric alarms (statistics, extended statistics,
  metric math, M of N, ``treatMissingData``);
- :func:`gcp.evaluate_policy`: Cloud Monitoring alert policies (threshold with aggregation and
  ratio, metric absence, log match);
- :func:`azure.evaluate_metric_alert`, :func:`azure.evaluate_log_alert`: Azure Monitor metric
  alerts and log search alerts (the KQL subset the toolkit's queries use);
- :func:`events.evaluate_rule`: EventBridge rules against the events AWS services emit;
- :mod:`budgets`: AWS, GCP and Azure budget notifications over daily costs.

:mod:`emitters` writes signals the way the clouds emit them (EC2 basic monitoring, SageMaker
per-request metrics, Lambda errors, Cloud Run request metrics, Azure ML endpoint metrics and
logs, audit log entries). A team proves its own alarm with the same pieces:

>>> from mlops_iac.plan.signals import cloudwatch, emitters
>>> store = cloudwatch.MetricStore()
>>> emitters.sagemaker_invocations(store, "ep", "AllTraffic", emitters.traffic(10, 100, errors=5))
>>> cloudwatch.evaluate_alarm(alarm.inputs, store, until=600).fired
True

Each module's docstring lists what it models and what it simplifies. Standard library only.
"""

from mlops_iac.plan.signals.timeline import Timeline

__all__ = ["Timeline"]

"""A `secure:` webhook URL in the stack file stays a Pulumi secret on every cloud."""

from __future__ import annotations

import pytest

from mlops_iac.plan.testing import SECRET_PLACEHOLDER, run_project
from tests.conftest import REPO, stack_config

# (stack, type of the resource carrying the webhook, its secret input: a whole property
# when the URL sits inside one, as the engine encrypts properties, not nested values)
WEBHOOK_TARGETS = [
    ("aws-dev", "aws:sns/topicSubscription:TopicSubscription", "endpoint"),
    ("azure-dev", "azure-native:monitor:ActionGroup", "webhookReceivers"),
    ("gcp-dev", "gcp:monitoring/notificationChannel:NotificationChannel", "labels"),
]


@pytest.mark.parametrize(("stack", "type_token", "path"), WEBHOOK_TARGETS)
def test_webhook_url_stays_secret(stack, type_token, path, tmp_path):
    config = stack_config(stack)
    config["mlops:platform"]["monitoring"]["webhookUrl"] = {"secure": "v1:AAAA"}
    recording = run_project(REPO, stack, extra_config=config)
    carriers = [r for r in recording.of_type(type_token) if path in r.secret_inputs]
    assert len(carriers) == 1, [(r.name, r.secret_inputs) for r in recording.of_type(type_token)]
    assert SECRET_PLACEHOLDER in str(carriers[0].inputs)

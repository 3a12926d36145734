from __future__ import annotations

import pytest

from mlops_iac.spec import gpu


def test_catalogue_covers_the_required_gpus():
    assert {"t4", "a10g", "l4", "a100-40gb", "a100-80gb", "h100"} <= set(gpu.GPU_NAMES)
    for offering in gpu.CATALOGUE.values():
        assert offering.gpus_per_node >= 1 and offering.usd_per_node_hour > 0
        assert offering.node_type and offering.accelerator


@pytest.mark.parametrize(
    ("name", "cloud", "node_type", "per_node"),
    [
        ("a10g", "aws", "g5.xlarge", 1),
        ("h100", "aws", "p5.48xlarge", 8),
        ("t4", "azure", "Standard_NC4as_T4_v3", 1),
        ("l4", "gcp", "g2-standard-4", 1),
    ],
)
def test_lookup(name, cloud, node_type, per_node):
    offering = gpu.lookup(name, cloud)
    assert (offering.node_type, offering.gpus_per_node) == (node_type, per_node)


def test_unknown_gpu_lists_the_choices():
    with pytest.raises(
        gpu.UnknownGpuError, match=r"unknown GPU 'v100'; valid choices on aws: t4, "
    ):
        gpu.lookup("v100", "aws")


def test_gpu_a_cloud_lacks_lists_that_clouds_choices():
    with pytest.raises(
        gpu.UnknownGpuError,
        match=r"GPU 'a10g' is not offered on gcp; valid choices: t4, l4, a100-40gb, a100-80gb, "
        r"h100$",
    ):
        gpu.lookup("a10g", "gcp")


def test_pool_caps_and_bounds():
    pool = gpu.pool("h100", "aws", 0, 3, label="TrainingCluster t")
    assert pool.max_gpus == 24
    assert pool.max_usd_per_hour == pytest.approx(3 * 55.04)
    assert gpu.max_usd_per_hour("h100", "aws", 3) == pool.max_usd_per_hour
    with pytest.raises(ValueError, match="TrainingCluster t: need 0 <= min_nodes <= max_nodes"):
        gpu.pool("t4", "aws", 3, 1, label="TrainingCluster t")

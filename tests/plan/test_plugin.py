from __future__ import annotations

import pulumi_aws as aws


def test_offline_fixture_is_installed_by_the_entry_point(offline):
    recording = offline.run(lambda: aws.s3.Bucket("team"), config={"aws:region": "us-east-1"})
    assert [r.type for r in recording] == ["aws:s3/bucket:Bucket"]
    assert recording.stack == "test"


def test_pytester_sees_the_plugin(pytester):
    pytester.makepyfile(
        """
        def test_uses_fixture(offline):
            assert offline.stack == "test"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

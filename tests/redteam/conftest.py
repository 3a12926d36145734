from tests.ops.conftest import aws_env, cli, project  # noqa: F401

"""Day-2 operations and the offline plan behind the ``mlops-iac`` command."""

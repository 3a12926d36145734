"""The offline plan: what ``mlops-iac plan`` runs, and the team test kit built on it.

- ``engine``: runs a Pulumi program under the recording mock engine (``run``, ``run_project``).
- ``mocks``: outputs that answer like the clouds do, one table per cloud behind one dispatcher.
- ``deploy``: what the real deploy would refuse (the per-cloud catalogue and lifecycle rules) and
  the strictly read saved state.
- ``service``: one plan of a stack: the program run, the judged environment, the policy pack and
  the deploy check (``mlops_iac.cli.plan`` parses arguments and prints it).
- ``testing``: the team test kit, the ``offline`` pytest fixture and the storage emulators.

The dependency direction: the CLI imports ``service``, ``service`` imports the engine and the
policy pack; the engine, the mocks and the catalogue never import ``service`` or the CLI; the
components library never imports this package.
"""

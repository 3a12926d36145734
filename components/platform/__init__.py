"""The platform wiring: one validated stack file in, one cloud's components out.

``MlopsStack`` builds the whole platform; the public translators (``artifact_store_kwargs``,
``training_cluster_kwargs``, ``serving_version`` …) turn a ``PlatformSpec`` into the components'
Args for a team program that composes the components itself. Each cloud's builder module is
imported lazily, so a stack for one cloud never loads another cloud's SDK.
"""

from mlops_iac.components.platform.stack import MlopsStack

__all__ = ["MlopsStack"]

"""Permission evaluators (``aws``, ``azure``, ``gcp``) and the plan-time rules (``rules``) that
prove each call shipped code makes (``mlops_iac.drift.calls``) against the plan's grants.

Importing ``rules`` registers its lifecycle rules; ``plan.deploy.lifecycle`` does so.
"""

"""Secure defaults of the AWS components, in one place.

Each component resolves its Args through ``components._component.secure_default`` against these
values, so that turning one off is a conscious, logged decision.
"""

from __future__ import annotations

KMS_KEY_ROTATION = True
KMS_DELETION_WINDOW_DAYS = 30
CUSTOMER_MANAGED_KEY = True
BUCKET_KEY_ENABLED = True
BLOCK_PUBLIC_ACCESS = True
ENFORCE_TLS = True
REQUIRE_SSE_KMS_UPLOADS = True
FORCE_DESTROY = False
OBJECT_OWNERSHIP = "BucketOwnerEnforced"
NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
DVC_PREFIX = "dvc"
CAPTURE_PREFIX = "capture"
LOG_RETENTION_DAYS = 365

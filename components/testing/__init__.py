"""Offline testing helpers for stacks built on these components (recording mocks land here)."""

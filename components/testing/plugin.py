"""pytest plugin registered by the ``pytest11`` entry point in pyproject.

Placeholder so that pytest starts while the recording mocks are being built; the platform work
replaces this module with the real fixtures.
"""

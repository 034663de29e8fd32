"""Errors the store raises. Each carries a message a person can act on."""

from __future__ import annotations


class JobStoreError(Exception):
    """Base class: anything the store refuses or cannot do."""


class InvalidInput(JobStoreError, ValueError):
    """A caller passed a value the store will not accept; nothing was written."""


class JobNotFound(JobStoreError, LookupError):
    """No job with this id exists in the store."""


class CodexUnavailable(JobStoreError):
    """The codex binary is missing, cannot be run, or is too old."""


class StoreWriteError(JobStoreError, OSError):
    """The store could not write a record (disk full, read-only, permissions)."""


class UnreadableRecord(JobStoreError):
    """The job exists but its meta.json cannot be read (empty, truncated, garbage)."""


class StoreRefused(JobStoreError):
    """A store folder or file is not the user's own private, plain entry (another owner,
    writable by group or others, a symlink): refused, with how to fix it."""

"""The exception hierarchy: each error says what went wrong and what the user can do.

The CLI prints ``str(error)`` as one line on stderr and exits with ``error.exit_code``; no
traceback reaches a clinician.
"""

from __future__ import annotations


class ScribeError(Exception):
    """Base of every error scribe raises on purpose."""

    exit_code = 1


class ConfigError(ScribeError):
    """Settings or a configuration file are invalid."""

    exit_code = 2


class AudioError(ScribeError):
    """An audio input cannot be used."""

    exit_code = 3


class AudioNotFoundError(AudioError):
    """The audio file does not exist or cannot be read."""


class EmptyAudioError(AudioError):
    """The file holds no audio samples, or only silence."""


class CorruptAudioError(AudioError):
    """The file is not audio, or is truncated or damaged."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured maximum."""


class CaptureError(ScribeError):
    """The microphone or audio device cannot be used."""

    exit_code = 4


class ModelError(ScribeError):
    """A model is missing, incomplete, or fails its checksum."""

    exit_code = 5


class TranscriptionError(ScribeError):
    """Recognition failed on audio that decoded correctly."""

    exit_code = 6


class BackendError(ScribeError):
    """The language model backend failed: not loaded, unreachable, or answered with an error."""

    exit_code = 7


class BackendTimeoutError(BackendError):
    """The backend did not answer within the configured time."""


class DraftError(ScribeError):
    """A note or letter cannot be drafted from this input (empty, one speaker, not English, malformed)."""

    exit_code = 8


class StoreError(ScribeError):
    """The consultation store cannot be opened, migrated or written."""

    exit_code = 9


class KeyMissingError(StoreError):
    """No encryption key is configured, or the key does not open this store."""


class TamperedError(StoreError):
    """Stored ciphertext failed its integrity check: it was altered, truncated or moved between records."""


class NotFoundError(StoreError):
    """The consultation, version or record does not exist (or was deleted under the retention policy)."""


class StateError(StoreError):
    """The action does not fit the record's state, e.g. editing an approved note or recording after an objection."""


class ExportError(ScribeError):
    """An approved note could not be delivered to the EPR (server refused it, unreachable, auth failed)."""

    exit_code = 10


class ExportRefusedError(ExportError):
    """The FHIR server refused the bundle (4xx); re-sending the same bundle will not help."""


class ExportUnreachableError(ExportError):
    """The FHIR server did not answer usefully after every retry; nothing is lost, re-run the export later."""


class ExportAuthError(ExportError):
    """The FHIR server or its token endpoint refused scribe's credentials."""

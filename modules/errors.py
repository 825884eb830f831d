"""Errors a user can cause, with messages that name the input and what would be valid.

Everything raised for bad user input derives from `EaselError`; the UI shows its message and the API answers 4xx
with it. Anything else escaping a job is a bug and is reported as such.
"""
from __future__ import annotations


class EaselError(Exception):
    """Base for every error whose message is meant for the user (never a traceback)."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(EaselError):
    """A request field holds a value that cannot be used; `field` names it, `valid` says what would work."""

    status_code = 422

    def __init__(self, field: str, problem: str, valid: str | None = None):
        text = f"{field}: {problem}"
        if valid:
            text += f" (valid: {valid})"
        super().__init__(text)
        self.field = field
        self.problem = problem
        self.valid = valid


class NotFound(EaselError):
    """A named thing (checkpoint, VAE, sampler, file) does not exist."""

    status_code = 404


class ModelLoadError(EaselError):
    """A model file could not be read or understood; the message names the file."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"cannot load {path}: {problem}")
        self.path = str(path)
        self.problem = problem


class UnsafeCheckpoint(ModelLoadError):
    """A pickle-based checkpoint asked for something other than tensors and plain containers."""


class Interrupted(Exception):
    """Raised inside a sampler loop when the job was interrupted; carries nothing, the job knows why."""

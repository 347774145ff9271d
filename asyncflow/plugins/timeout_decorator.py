"""``metaflow.plugins.timeout_decorator``: ``TimeoutException``, the error of an attempt
that ran past its ``@timeout`` (asyncflow's :class:`~asyncflow.exceptions.StepTimeoutError`)."""

from __future__ import annotations

from asyncflow.exceptions import StepTimeoutError as TimeoutException

__all__ = ["TimeoutException"]

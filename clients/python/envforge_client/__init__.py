"""Clients of an envforge environment server (``envforge serve``): an OpenEnv-style
episode client, the HTTP routes, and adapters for TRL, verl, SkyRL and OpenRLHF."""

from .client import AsyncEnvforgeEnv, EnvforgeEnv, StepResult
from .errors import CapacityReached, EnvforgeError
from .http_client import EnvforgeHttp

__all__ = ["AsyncEnvforgeEnv", "EnvforgeEnv", "StepResult", "EnvforgeHttp", "EnvforgeError", "CapacityReached"]

"""The settings: one declaration each (model.py), their domain rules (rules.py), and the loader
that turns a stack's config into them or into errors a user can act on (load.py).

This package imports neither Pulumi nor any part: it sits below everything that reads it.
"""

from components.config.errors import ConfigError, Problem
from components.config.load import ConfigSource, load_settings
from components.config.model import Settings
from components.config.schema import Declaration, declarations
from components.config.types import CredentialsMode, GpuMode, Resources, Toleration

__all__ = [
    "ConfigError",
    "ConfigSource",
    "CredentialsMode",
    "Declaration",
    "GpuMode",
    "Problem",
    "Resources",
    "Settings",
    "Toleration",
    "declarations",
    "load_settings",
]

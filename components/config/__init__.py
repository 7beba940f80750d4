"""The settings: one declaration each (model.py), their domain rules (rules.py), and the loader
that turns a stack's config into them or into errors a user can act on (load.py)."""

from components.config.errors import ConfigError, Problem
from components.config.load import ConfigSource, MappingSource, declared_settings, load_settings
from components.config.model import Settings
from components.config.types import CredentialsMode, GpuMode, Resources

__all__ = [
    "ConfigError",
    "ConfigSource",
    "CredentialsMode",
    "GpuMode",
    "MappingSource",
    "Problem",
    "Resources",
    "Settings",
    "declared_settings",
    "load_settings",
]

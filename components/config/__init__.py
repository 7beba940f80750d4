"""The settings (model.py), their domain rules (rules.py), the loader (load.py) and each setting as
Pulumi config sees it (schema.py). It imports neither Pulumi nor any part."""

from components.config.load import ConfigError, ConfigSource, Problem, load_settings
from components.config.model import CredentialsMode, GpuMode, Resources, Settings, Toleration
from components.config.schema import Declaration, declarations

"""YAML experiment configs: read safely, validated into typed objects, turned into runs.

A config is checked completely (syntax, keys, types, units, the instrument's range, the
output directory) before any instrument is opened; every problem becomes one
:class:`ConfigError` naming the file, the key path, the bad value and what is allowed.
"""

from .fields import ConfigError
from .instrument import InstrumentConfig
from .loading import load_config, load_station, read_config
from .plan import plan
from .schema import Config, IVSweepConfig, SaveConfig, TimeTraceConfig
from .station import StationConfig

__all__ = [
    "Config",
    "ConfigError",
    "IVSweepConfig",
    "InstrumentConfig",
    "SaveConfig",
    "StationConfig",
    "TimeTraceConfig",
    "load_config",
    "load_station",
    "plan",
    "read_config",
]

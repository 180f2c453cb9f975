"""The version of bp-helper: one place, read by the package, its programs and pyproject.toml."""

__version__ = "0.1.0"

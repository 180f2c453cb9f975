"""The one TLS policy: which CA certificates bp-helper trusts for a profile, and why.

:func:`trust` decides, and everything bp-helper sends or starts for a profile asks it: the
token requests (``verify``), ``doctor``'s probe, ``bp-helper curl`` and ``curl-config``
(``cacert`` in the config they hand curl), and Python callers through
:func:`bp_helper.ca_bundle`, for the ``verify=`` of their own calls to the API. In order:

1. the profile's ``ca_bundle`` (config file): one profile's choice, so it wins over
2. ``REQUESTS_CA_BUNDLE``, then ``SSL_CERT_FILE``, which many machines set for everything
   (conda, corporate images);
3. else the default: requests' CA bundle for the token requests, curl's own for curl.

The resolver takes the ``ca_bundle`` row's config key before its environment variables
(``config_first`` in :mod:`bp_helper.config.table`), so ``status`` shows the same winner.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bp_helper.config.settings import Settings
from bp_helper.errors import ConfigError

DEFAULT = "default"


class Trust(NamedTuple):
    """The CA file a profile's TLS connections verify against, and where that choice came from."""

    path: str | None  # None: the default CA certificates
    source: str  # "the profile's ca_bundle, config ...", "env REQUESTS_CA_BUNDLE", "default"

    @property
    def verify(self) -> str | bool:
        """What requests' ``verify`` gets."""
        return self.path or True

    @property
    def from_profile(self) -> bool:
        return self.source.startswith("the profile's")

    def describe(self, default_file: str | None = None) -> str:
        """``CA file PATH (from SOURCE)``, for messages; ``default_file``: the file the
        default stands for where it is known (requests' bundle)."""
        if self.path is None:
            where = f" {default_file}" if default_file else "s"
            return (
                f"the default CA file{where} (no ca_bundle, REQUESTS_CA_BUNDLE or "
                "SSL_CERT_FILE is set)"
            )
        return f"CA file {self.path} (from {self.source})"


def trust(settings: Settings) -> Trust:
    """The profile's TLS trust (see the module docstring); a named file that does not exist is
    a :class:`~bp_helper.errors.ConfigError`."""
    resolved = settings.resolve("ca_bundle")
    if not resolved.value:
        return Trust(None, DEFAULT)
    source = resolved.source
    if source.startswith("config "):
        source = f"the profile's ca_bundle, {source}"
    path = Path(resolved.value).expanduser()
    if not path.exists():
        raise ConfigError(f"CA bundle {path} (from {source}) does not exist")
    return Trust(str(path), source)

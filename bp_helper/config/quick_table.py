"""The cached path's part of the settings table (bp_helper.quick), as data.

Generated from bp_helper/config/table.py, which is the one place to change (a test holds
the two equal): ``python -m bp_helper.config.table > bp_helper/config/quick_table.py``,
then ``ruff format`` it.

SETTINGS: name -> (flag, environment variables, config key, default, secret, config_first);
the default is None where the table computes it (the names in COMPUTED).
"""

SETTINGS = {
    "profile": ("--profile", ("BIOPRODICT_PROFILE",), None, "default", False, False),
    "config": ("--config", ("BIOPRODICT_CONFIG",), None, None, False, False),
    "token_url": (
        "--token-url",
        ("BIOPRODICT_TOKEN_URL",),
        "token_url",
        "https://api.bio-prodict.nl/oauth/oauth/token",
        False,
        False,
    ),
    "hosts": ("--hosts", ("BIOPRODICT_HOSTS",), "hosts", None, False, False),
    "client_id": ("--client-id", ("BIOPRODICT_CLIENT_ID",), "client_id", None, False, False),
    "client_secret": (None, ("BIOPRODICT_CLIENT_SECRET",), "client_secret", None, True, False),
    "client_secret_command": (None, (), "client_secret_command", None, False, False),
    "username": ("--username", ("BIOPRODICT_USERNAME",), "username", None, False, False),
    "password": (None, ("BIOPRODICT_PASSWORD",), None, None, True, False),
    "password_command": (None, (), "password_command", None, False, False),
    "twofactor": ("--twofactor", ("BIOPRODICT_TWOFACTOR",), None, None, True, False),
    "twofactor_command": (None, (), "twofactor_command", None, False, False),
    "token": (None, ("BIOPRODICT_TOKEN",), None, None, True, False),
    "ca_bundle": (None, ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), "ca_bundle", None, False, True),
    "refresh_margin": (None, (), "refresh_margin", 300.0, False, False),
    "timeout": (None, (), "timeout", 15.0, False, False),
    "command_timeout": (None, (), "command_timeout", 30.0, False, False),
    "keyring_timeout": (None, (), "keyring_timeout", 15.0, False, False),
    "refresh_token_storage": (None, (), "refresh_token_storage", "file", False, False),
    "allow_plaintext_keyring": (
        "--allow-plaintext-keyring",
        ("BIOPRODICT_ALLOW_PLAINTEXT_KEYRING",),
        "allow_plaintext_keyring",
        False,
        False,
        False,
    ),
    "noninteractive": (
        "--non-interactive",
        ("BIOPRODICT_NONINTERACTIVE",),
        None,
        False,
        False,
        False,
    ),
    "grant": ("--grant", ("BIOPRODICT_GRANT",), "grant", "password", False, False),
    "audience": ("--audience", ("BIOPRODICT_AUDIENCE",), "audience", None, False, False),
}
COMPUTED = frozenset(["config", "hosts"])
HELPER_FLAGS = {"--profile": "profile", "--config": "config"}
CONFIG_KEYS = frozenset(
    [
        "allow_plaintext_keyring",
        "audience",
        "ca_bundle",
        "client_id",
        "client_secret",
        "client_secret_command",
        "command_timeout",
        "grant",
        "hosts",
        "keyring_timeout",
        "password_command",
        "refresh_margin",
        "refresh_token_storage",
        "timeout",
        "token_url",
        "twofactor_command",
        "username",
    ]
)
HOST_SETTINGS = ("hosts", "token_url", "grant")
PASSWORD = "password"

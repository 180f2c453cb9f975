"""Settings: the table of settings, their resolver, the config file, paths and hosts."""

"""The ``bp-helper`` command line and its commands."""

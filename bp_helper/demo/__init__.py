"""``bp-helper demo`` and ``bp-helper sandbox``."""

"""Tokens: the token service, the password login, the OAuth client, the store and its notes."""

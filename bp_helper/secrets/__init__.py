"""Secrets: where each one comes from, the OS keyring, prompts, and where each lives."""

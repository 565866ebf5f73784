"""Simulated SMS and e-mail: the sandbox's stand-in for a messaging gateway (one-time codes, access notices)."""

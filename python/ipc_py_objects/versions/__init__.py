"""Stable addresses of the API: ``versions.v_1`` is the seed-compatible one."""

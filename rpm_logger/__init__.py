"""Composition root: settings, the ASGI app and the CLI wire the service to the world."""

"""This process, as claims and audit records name it."""

import os
import socket


def instance_name() -> str:
    """Who holds a claim: this host and process (shows up in the claim row and audit)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"

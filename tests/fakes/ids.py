"""Twilio-shaped ids for tests, unique per process (and across processes): a prefix and 32
random hex digits, like Twilio's own. Counting from 1 in two places once made the tests'
CallSids collide with the Twilio recorder's."""

import uuid


def unique_sid(prefix: str = "CA") -> str:
    return f"{prefix}{uuid.uuid4().hex}"

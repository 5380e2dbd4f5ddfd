"""The one error type for input a person typed wrongly.

Adapters turn it into a friendly reply (Slack), exit status 2 (CLI) or a 400/422 (web);
its message is written for the person who typed the input, not for a developer.
"""


class InvalidInput(ValueError):
    """Input that was refused; nothing was changed."""

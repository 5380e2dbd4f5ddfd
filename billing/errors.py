"""The one error type for input a person typed wrongly.

Adapters turn it into a friendly reply (Slack), exit status 2 (CLI) or a 400/422 (web);
its message is written for the person who typed the input, not for a developer.
"""


class InvalidInput(ValueError):
    """Input that was refused; nothing was changed. `field`: which field of a record it is
    about, when a use case checked several at once (service/errors.Refusals)."""

    field: str | None = None


def quoted(text: str, limit: int = 30) -> str:
    """What a person typed, for a refusal: whole when short, else its start and its length,
    so a 5,000-character paste never becomes a 5,000-character reply."""
    if len(text) <= limit:
        return f"'{text}'"
    return f"'{text[:limit]}…' ({len(text):,} characters)"

"""Voice PINs as salted slow hashes: `scrypt$N$r$p$salt$key` (base64), so the cost can be
raised later and older hashes still verify. The digits are never stored, logged or returned.

Pure functions (hashlib and hmac only): the use cases in service/voice_access.py call them
before opening a write transaction, so a ~50 ms hash never holds the database's write lock.
"""

import base64
import hashlib
import hmac
import re
import secrets

# The cost of a new hash: 16 MiB and ~50 ms per check, which turns an offline guess at every
# 4-digit PIN from a copied database into minutes of work instead of microseconds.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_SCRYPT_N = 2**20  # a stored hash asking for more is refused, not computed
_PIN = re.compile(r"[0-9]{4,8}")
PIN_RULE = "A voice PIN is 4 to 8 digits (0-9), typed on the phone's keypad."


def well_formed(digits: str) -> bool:
    """Whether `digits` has a PIN's shape: 4 to 8 ASCII digits, nothing else."""
    return bool(_PIN.fullmatch(digits or ""))


def hash_pin(digits: str) -> str:
    """A new salted hash of a well-formed PIN (a fresh random salt each time)."""
    if not well_formed(digits):
        raise ValueError(PIN_RULE)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(digits, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt),
                     _b64(key)])


def pin_matches(digits: str, stored: str) -> bool:
    """Whether `digits` is the PIN `stored` was made from; False for anything unreadable."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        cost = int(n), int(r), int(p)
        if scheme != "scrypt" or not 1 < cost[0] <= MAX_SCRYPT_N or min(cost) < 1:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(digits, base64.b64decode(salt, validate=True), *cost,
                         length=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(digits: str, salt: bytes, n: int, r: int, p: int, *,
            length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(digits.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r * p + 2**20, dklen=length)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")

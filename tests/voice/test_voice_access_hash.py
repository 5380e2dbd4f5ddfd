"""service/pins.py: a PIN's salted scrypt hash round-trips, each hash has its own salt, the
cost travels in the string (so raising it later keeps old hashes working), and anything
unreadable is simply no match."""

import hashlib

import pytest

from service import pins
from tests.voice.helpers import OTHER_PIN, PIN

pytestmark = pytest.mark.real_pin_cost  # the production cost is what is checked here


def test_a_hash_round_trips_and_refuses_every_other_pin() -> None:
    stored = pins.hash_pin(PIN)
    assert pins.pin_matches(PIN, stored)
    for other in (OTHER_PIN, PIN[:-1], PIN + "0", "0" + PIN, PIN[::-1], ""):
        assert not pins.pin_matches(other, stored)
    assert PIN not in stored


def test_each_hash_has_its_own_salt() -> None:
    hashes = {pins.hash_pin(PIN) for _ in range(3)}
    assert len(hashes) == 3
    salts = {h.split("$")[4] for h in hashes}
    assert len(salts) == 3
    assert all(len(pins.base64.b64decode(s)) == pins.SALT_BYTES for s in salts)
    assert all(pins.pin_matches(PIN, h) for h in hashes)


def test_the_cost_is_read_from_the_stored_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pins, "SCRYPT_N", 2**10)  # a hash made before the cost was raised
    older = pins.hash_pin(PIN)
    monkeypatch.undo()
    assert older.split("$")[1:4] == ["1024", "8", "1"]
    assert pins.hash_pin(PIN).split("$")[1:4] == [str(2**14), "8", "1"]
    assert pins.pin_matches(PIN, older) and not pins.pin_matches(OTHER_PIN, older)


def test_the_hash_is_scrypt_of_the_digits_with_its_salt() -> None:
    stored = pins.hash_pin(PIN)
    _, n, r, p, salt, key = stored.split("$")
    expected = hashlib.scrypt(PIN.encode(), salt=pins.base64.b64decode(salt), n=int(n),
                              r=int(r), p=int(p), dklen=32)
    assert pins.base64.b64decode(key) == expected


@pytest.mark.parametrize("stored", [
    "", "scrypt", "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA",
    "scrypt$16384$8$1$not base64!$AAAA", "scrypt$1$8$1$AAAA$AAAA",
    f"scrypt${2**30}$8$1$AAAA$AAAA",  # a cost nobody sets: refused, never computed
    "scrypt$16384$0$1$AAAA$AAAA", "scrypt$16385$8$1$AAAA$AAAA",
])
def test_an_unreadable_hash_never_matches_and_never_raises(stored: str) -> None:
    assert not pins.pin_matches(PIN, stored)


@pytest.mark.parametrize("digits", ["123", "123456789", "12a4", "\uff14\uff13\uff12\uff11",
                                    "", " 1234", "1234\n"])
def test_only_four_to_eight_ascii_digits_are_a_pin(digits: str) -> None:
    assert not pins.well_formed(digits)
    with pytest.raises(ValueError, match="4 to 8 digits"):
        pins.hash_pin(digits)


def test_four_and_eight_digits_are_pins() -> None:
    assert pins.well_formed("0000") and pins.well_formed("12345678")

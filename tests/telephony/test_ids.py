"""Test ids never collide: the tests' own CallSids and the Twilio recorder's are unique per
process, whichever test runs first in a worker (a click-to-call test once failed when it
did, because both counted `CA{n:032x}` from 1)."""

import subprocess
import sys
from pathlib import Path

import httpx

from tests.fakes.twilio_api import TwilioApiRecorder
from tests.telephony.conftest import ACCOUNT_SID, new_sid

ROOT = Path(__file__).resolve().parents[2]

FIRST_IDS = """
import httpx
from tests.fakes.twilio_api import TwilioApiRecorder
from tests.telephony.conftest import ACCOUNT_SID, new_sid
recorder = TwilioApiRecorder(ACCOUNT_SID).start()
try:
    made = httpx.post(recorder.base_url + f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                      data={"To": "+16175550123", "From": "+16175550100"}).json()["sid"]
finally:
    recorder.stop()
print(new_sid(), made)
"""


def _created(recorder: TwilioApiRecorder) -> str:
    url = recorder.base_url + f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    return str(httpx.post(url, data={"To": "+16175550123"}).json()["sid"])


def test_the_first_ids_of_a_fresh_process_differ() -> None:
    """What a worker whose first test is a click-to-call test sees."""
    result = subprocess.run([sys.executable, "-c", FIRST_IDS], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    minted, created = result.stdout.split()
    assert minted != created
    assert minted.startswith("CA") and len(minted) == 34 and created.startswith("CA")


def test_two_recorders_and_new_sid_never_repeat_an_id() -> None:
    recorders = [TwilioApiRecorder(ACCOUNT_SID).start() for _ in range(2)]
    try:
        ids = [_created(r) for r in recorders for _ in range(3)]
    finally:
        for recorder in recorders:
            recorder.stop()
    ids += [new_sid() for _ in range(3)]
    assert len(set(ids)) == len(ids)

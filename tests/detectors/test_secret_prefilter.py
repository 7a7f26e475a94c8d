"""secret_exposure's keyword prefilter never hides a CODE match (the same codes are remembered)."""

from __future__ import annotations

import random

from otel_cot.detectors.secret_exposure import CODE, may_hold_code

PIECES = ["your ", "verification ", "security ", "one-time ", "code ", "CODE ", "Pin ", "token ", "KEY ", "key: ",
          "passcode ", "password ", "PassWord", "passwd", "pwd", "passphrase", " is ", ": ", "= ", "'", "\"",
          "A1B2", "123456", "x9-77", "hello ", "world ", "\n", "K", "\u212aey ", "\u017f", "pa\u017f\u017fword ",
          "İ", "é", "recovery ", "access ", "2fa ", "mfa "]


def test_prefilter_never_hides_a_match():
    rnd = random.Random(3)
    checked = hidden = 0
    for _ in range(30_000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 14)))
        if CODE.search(text):
            checked += 1
            assert may_hold_code(text), repr(text)
        elif not may_hold_code(text):
            hidden += 1
    assert checked > 1000 and hidden > 1000  # both sides of the filter were exercised


def test_non_ascii_case_folding_goes_to_the_regex():
    text = "your verification \u212aey is 493021"  # the Kelvin sign matches 'k' under IGNORECASE
    assert CODE.search(text) and may_hold_code(text)
    assert not may_hold_code("1 passed in 0.01s")  # "pass" alone is not enough

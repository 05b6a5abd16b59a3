"""The validated detectors: what each finds, what its validation rejects, and overlaps."""

from __future__ import annotations

import pytest

from truecourse.guard import PatternDetector

DETECTOR = PatternDetector()


def found(text: str, key: str | None = None) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in DETECTOR.scan(text, key)]


@pytest.mark.parametrize(("text", "expected"), [
    ("write to bob.smith+tag@mail.example.co.uk now",
     ("EMAIL", "bob.smith+tag@mail.example.co.uk")),
    ("call +44 20 7946 0958 today", ("PHONE", "+44 20 7946 0958")),
    ("call (415) 555-2671 x123", ("PHONE", "(415) 555-2671 x123")),
    ("card 4111 1111 1111 1111 exp", ("CREDIT_CARD", "4111 1111 1111 1111")),
    ("amex 3782-822463-10005", ("CREDIT_CARD", "3782-822463-10005")),
    ("iban GB82 WEST 1234 5698 7654 32.", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
    ("iban DE89370400440532013000", ("IBAN", "DE89370400440532013000")),
    ("ssn 536-22-1234", ("US_SSN", "536-22-1234")),
    ("SSN: 536221234", ("US_SSN", "536221234")),
    ("from 203.0.113.42 at", ("IP_ADDRESS", "203.0.113.42")),
    ("from 2001:db8:85a3::8a2e:370:7334 at", ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")),
    ("she was born on March 3, 1985 in", ("DATE_OF_BIRTH", "March 3, 1985")),
    ("DOB: 04/12/1990", ("DATE_OF_BIRTH", "04/12/1990")),
    ("postgres://admin:hunter22@db.internal/app", ("URL_CREDENTIALS", "admin:hunter22")),
    ("AKIAIOSFODNN7EXAMPLE", ("AWS_KEY", "AKIAIOSFODNN7EXAMPLE")),
    ("key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW ok",
     ("GCP_KEY", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW")),
    ("AccountKey=" + "a" * 40 + "B" * 46 + "==;", ("AZURE_KEY", "a" * 40 + "B" * 46 + "==")),
    ("ghp_" + "a1B2" * 9, ("GITHUB_TOKEN", "ghp_" + "a1B2" * 9)),
    ("glpat-" + "x9Y8z7W6v5U4t3S2r1Q0", ("GITLAB_TOKEN", "glpat-x9Y8z7W6v5U4t3S2r1Q0")),
    ("xoxb-1234567890-abcdefghij", ("SLACK_TOKEN", "xoxb-1234567890-abcdefghij")),
    ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", ("STRIPE_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")),
    ("sk-proj-" + "Ab1" * 10, ("OPENAI_KEY", "sk-proj-" + "Ab1" * 10)),
    ("sk-ant-api03-" + "Zx9" * 10, ("ANTHROPIC_KEY", "sk-ant-api03-" + "Zx9" * 10)),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
             "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")),
    ('"api_key": "q8Zr2vXk9LmN4pQs7TuW"', ("SECRET", "q8Zr2vXk9LmN4pQs7TuW")),
    ("password=S3cr3t!!", ("SECRET", "S3cr3t!!")),
])
def test_detects(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112",            # Luhn fails
    "iban GB82 WEST 1234 5698 7654 33",    # mod 97 fails
    "iban XX82 WEST 1234 5698 7654 32",    # no such country
    "ssn 666-12-3456",                     # never-issued area
    "ssn 900-12-3456",                     # 9xx area
    "ssn 536-00-1234",                     # group 00
    "order 536221234 shipped",             # nine digits without SSN context
    "version 1.2.3 and 999.1.1.1",         # not addresses
    "meeting on 2024-01-05 at 10:30",      # a date, not a birth date; not a phone
    "unix time 1712345678901",             # not a phone
    "the token is required",               # a word, not a secret
    "password: changeme",                  # a placeholder
    "api_key=${API_KEY}",                  # a template, not a value
    "eyJhbGciOi.eyJzdWIiOi.notajwtsignature",  # header does not decode to JSON with alg
    "mail to nobody@localhost",            # no top-level domain
])
def test_rejects(text: str) -> None:
    assert found(text) == []


def test_json_numbers_do_not_wake_digit_detectors_but_strings_do() -> None:
    assert found('{"t":1712345678901234567,"n":[4111111111111111]}') == []
    assert found('{"card":"4111111111111111"}') == [("CREDIT_CARD", "4111111111111111")]


def test_values_after_json_escapes_are_found() -> None:
    raw = '{"note":"call\\n(415) 555-2671\\ncard\\n4111111111111111\\nssn\\n536-22-1234"}'
    assert [t for t, _ in found(raw)] == ["PHONE", "CREDIT_CARD", "US_SSN"]


def test_prices_and_bare_unassigned_numbers_are_not_phones() -> None:
    assert found("Price: $20367035.99 incl. tax") == []
    assert found("ref 2995653945") == []                 # bare digits: must be assigned
    assert found("call 299-565-3945") == [("PHONE", "299-565-3945")]  # written as a phone


def test_key_gives_context() -> None:
    assert found("1990-04-12", key="user.date_of_birth") == [("DATE_OF_BIRTH", "1990-04-12")]
    assert found("1990-04-12", key="created") == []
    assert found("q8Zr2vXk9LmN4pQs7TuW", key="client_secret") == [
        ("SECRET", "q8Zr2vXk9LmN4pQs7TuW")]
    assert found("q8Zr2vXk9LmN4pQs7TuW", key="request_id") == []


def test_overlaps_keep_the_more_specific_type() -> None:
    text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA4111111111111111\n" \
           "-----END RSA PRIVATE KEY-----"
    assert [t for t, _ in found(text)] == ["PRIVATE_KEY"]
    assert [t for t, _ in found("https://bob:pw123456@example.com")] == ["URL_CREDENTIALS"]


def test_selected_types_and_regions() -> None:
    only_email = PatternDetector(types={"EMAIL"})
    assert [f.type for f in only_email.scan("a@b.io 4111 1111 1111 1111")] == ["EMAIL"]
    german = PatternDetector(types={"PHONE"}, phone_regions=["DE"])
    assert [f.type for f in german.scan("Tel. 030 901820")] == ["PHONE"]
    assert PatternDetector(types={"PHONE"}).scan("Tel. 030 901820") == []
    with pytest.raises(ValueError, match="unknown entity types"):
        PatternDetector(types={"EMAL"})


@pytest.mark.parametrize("text", [
    "mail bob@example.com, card 4111 1111 1111 1111, ssn 536-22-1234, born 1990-04-12",
    '{"t":1712345678901234567,"user.phone":"(415) 555-2671","ip":"2001:db8::1"}',
    "nothing to see here, just words and 42 numbers",
    "AKIAIOSFODNN7EXAMPLE and password=S3cr3t!! at 10.0.0.1",
])
def test_the_re2_prefilter_changes_no_finding(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with_re2 = found(text)
    fallback = PatternDetector()
    monkeypatch.setattr(fallback._prefilter, "set", None)
    assert [(f.type, text[f.start:f.end]) for f in fallback.scan(text)] == with_re2

"""Checks that turn a pattern's candidate into a finding: checksums, ranges, entropy.

Each function takes the candidate text and answers whether it is the real thing. They are pure
and cheap (microseconds); the detectors call them only on what a pattern already matched.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections import Counter

import orjson

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
"""IBAN length per country (the SWIFT IBAN registry)."""


def luhn(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIXES = ("4", "5", "2", "3", "6", "1")


_MAESTRO_PREFIXES = ("50", "56", "57", "58", "6")


def card_number(digits: str) -> bool:
    """A payment card number: 13-19 digits (12 for Maestro), a known industry prefix,
    Luhn-valid, not one repeated digit."""
    if len(digits) == 12:
        if not digits.startswith(_MAESTRO_PREFIXES):
            return False
    elif not 13 <= len(digits) <= 19 or not digits.startswith(_CARD_PREFIXES):
        return False
    return len(set(digits)) > 1 and luhn(digits)


def iban(compact: str) -> bool:
    """An IBAN without spaces: known country, its exact length, and ISO 7064 mod 97 == 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def us_ssn(area: str, group: str, serial: str) -> bool:
    """A US SSN outside the never-issued ranges (area 000, 666, 9xx; group 00; serial 0000)
    and not one of the well-known advertising numbers."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return f"{area}{group}{serial}" not in ("078051120", "219099999")


def ip_address(text: str) -> bool:
    """A syntactically valid IPv4 or IPv6 address (unspecified ``::`` and ``0.0.0.0`` excluded)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not addr.is_unspecified


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``'s character distribution."""
    n = len(text)
    if not n:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def char_classes(text: str) -> int:
    """How many of lower case, upper case, digits and other characters ``text`` uses."""
    return (any(c.islower() for c in text) + any(c.isupper() for c in text)
            + any(c.isdigit() for c in text) + any(not c.isalnum() for c in text))


def jwt(token: str) -> bool:
    """Three dot-separated base64url parts whose header decodes to JSON naming an ``alg``."""
    header = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        parsed = orjson.loads(decoded)
    except (binascii.Error, ValueError):
        return False
    return isinstance(parsed, dict) and "alg" in parsed

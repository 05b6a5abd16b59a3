"""Pattern detectors with validation: candidates from compiled patterns, kept only when valid.

::

    detector = PatternDetector()                     # every pattern type, phones for US
    detector.scan("mail bob@example.com, card 4111 1111 1111 1111")
    # [Finding(type='EMAIL', start=5, end=20, ...), Finding(type='CREDIT_CARD', ...)]

Cost model: each family of patterns is gated by a check that runs at C speed over the text (a
substring test such as ``'@' in text``, or one compiled search), so text with nothing that
could be sensitive costs a handful of scans and no Python per character. Validators (Luhn,
mod 97, ``phonenumbers``, entropy) run only on candidates. Where two findings overlap, the more
specific type wins (a private key block over the high-entropy tokens inside it, URL credentials
over the e-mail-looking ``pass@host``), then the longer one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers

try:  # RE2's multi-pattern set: one linear pass says which detector families can match
    import re2
except ImportError:  # pragma: no cover - google-re2 is a dependency; the gates fall back
    re2 = None

from truecourse.guard import validators as V
from truecourse.model import safety as E


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: its type and where it is (``text[start:end]``). Never the value."""

    type: str
    start: int
    end: int
    score: float = 1.0
    """Confidence in [0, 1]: 1.0 for validated patterns, the backend's score for NER."""


Family = Callable[[str, str, "str | None", "list[Finding]"], None]
"""A detector family: ``(text, lower-cased text, key, findings out)``."""

PRIORITY: dict[str, int] = {
    E.PRIVATE_KEY: 100, E.URL_CREDENTIALS: 95, E.JWT: 92, E.ANTHROPIC_KEY: 91, E.OPENAI_KEY: 90,
    E.STRIPE_KEY: 90, E.GITHUB_TOKEN: 90, E.GITLAB_TOKEN: 90, E.SLACK_TOKEN: 90, E.AWS_KEY: 90,
    E.GCP_KEY: 90, E.AZURE_KEY: 90, E.SECRET: 80, E.EMAIL: 70, E.IBAN: 65, E.CREDIT_CARD: 60,
    E.US_SSN: 58, E.IP_ADDRESS: 55, E.DATE_OF_BIRTH: 50, E.PHONE: 40, E.PERSON: 10,
    E.LOCATION: 10,
}

_TOKENS = re.compile(r"""
    (?<![A-Za-z0-9_\-])(?:
      (?P<ANTHROPIC_KEY>sk-ant-[A-Za-z0-9_\-]{20,})
    | (?P<OPENAI_KEY>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,})
    | (?P<STRIPE_KEY>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})
    | (?P<GITHUB_TOKEN>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255})
    | (?P<GITLAB_TOKEN>gl(?:pat|ptt|dt|rt|cbt|imt|soat|oas|ft)-[A-Za-z0-9_\-]{20,})
    | (?P<SLACK_TOKEN>xox[abposre]-[A-Za-z0-9\-]{10,}
                     |hooks\.slack\.com/services/[A-Za-z0-9/]{20,})
    | (?P<AWS_KEY>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})
    | (?P<GCP_KEY>AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{30,}|GOCSPX-[A-Za-z0-9_\-]{28})
    | (?P<JWT>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})
    )(?![A-Za-z0-9_\-])
""", re.VERBOSE)
_TOKEN_GATE = re.compile(r"sk[-_]|rk_|whsec_|gh[pousr]_|github_pat_|gl[a-z]{1,5}-|xox|hooks\.slack"
                         r"|A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|IPA)|AIza|ya29\.|GOCSPX-|eyJ")
_AZURE = re.compile(
    r"AccountKey=(?P<v1>[A-Za-z0-9+/]{86}==)|SharedAccessKey=(?P<v2>[A-Za-z0-9+/]{42,44}=)"
    r"|[?&]sig=(?P<v3>[A-Za-z0-9%+/]{40,}(?:={0,2}|(?:%3D){0,2}))"
    r"|(?<![A-Za-z0-9_~.\-])(?P<v4>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})"
    r"(?![A-Za-z0-9_~.\-])")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----END)){0,20000}"
    r"(?:-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----)?")
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://"
    r"(?P<userinfo>[^\s/?#@:\"'<>\\]{1,256}:[^\s/?#@\"'<>\\]{1,256})@")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])(?P<local>[A-Za-z0-9._%+\-]{1,64})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|"
                   r"(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")
_SSN = re.compile(r"(?:(?<=\\[nrt])|(?<![\w\-]))(\d{3})([\- ]?)(\d{2})\2(\d{4})(?![\w\-])")
_CARD = re.compile(r"(?:(?<=\\[nrt])|(?<![\w\-]))\d(?:[ \-]?\d){11,18}(?![\w\-])")
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
           r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = re.compile(
    r"(?<![\w/.\-])(?:(?:19|20)\d\d[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:19|20)\d\d"
    r"|(?:0?[1-9]|1[0-2])[\-/.](?:0?[1-9]|[12]\d|3[01])[\-/.](?:19|20)\d\d"
    rf"|{_MONTHS}\.? \d{{1,2}}(?:st|nd|rd|th)?,? (?:19|20)\d\d"
    rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTHS}\.?,? (?:19|20)\d\d)(?![\w/\-])")
_DOB_CONTEXT = re.compile(r"(?i)(?:born|birth|(?<![a-z])dob|d\.o\.b)")
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|social security|social sec|ss#)")
_PHONE = re.compile(
    r"(?:(?<=\\[nrt])|(?<![\w+@/.\-]))(?:\+|00)?\(?\d[\d \t().\-]{5,20}\d"
    r"(?:[ \t]?(?:x|ext\.?|extension)[ \t]?\d{1,6})?(?![\w@/]|-\d)")
_PHONE_EXTENSION = re.compile(r"[ \t]?(?:x|ext\.?|extension)[ \t]?\d{1,6}$")
_SECRET_WORDS = (r"api[_\-. ]?key|access[_\-. ]?key|secret|token|passw(?:or)?d|passwd|pwd"
                 r"|passphrase|credentials?|auth(?:orization)?|private[_\-. ]?key|\bkey")
_SECRET_AFTER_WORD = re.compile(
    r"[\w.\-]{0,24}?[\"']?[ \t]*(?::|=|=>|\bis\b)[ \t]*"
    r"(?:[\"']|(?:bearer|basic|token)[ \t]+)?(?P<value>[^\s\"',;<>(){}\[\]]{6,256})")
"""What follows a secret word (key, token, password, ...) when a value is assigned to it;
matched on lower-cased text at each occurrence of the word (the value is read back from the
original text at the same offsets, which ``str.lower`` keeps for ASCII)."""
_SECRET_TRIGGERS = ("key", "secret", "token", "pass", "pwd", "credential", "auth")
_DOB_TRIGGERS = ("born", "birth", "dob", "d.o.b")
_SECRET_KEY_NAME = re.compile(rf"(?i)(?:{_SECRET_WORDS})")
_PASSWORD_WORD = re.compile(r"(?i)pass|pwd")
_NON_SECRET_VALUES = frozenset({"null", "none", "true", "false", "undefined", "redacted",
                                "required", "missing", "invalid", "expired", "changeme"})
_DIGIT_RUN = re.compile(r"\d(?:[ \t().\-]?\d){6}|\d\.\d{1,3}\.\d{1,3}\.\d")
"""Seven digits (separators allowed) or a dotted quad: every digit-based type has one."""

_CONTEXT_CHARS = 48
"""How far before a date (or bare nine digits) a birth (or SSN) word may stand."""


class PatternDetector:
    """Validated pattern detectors for the types in ``types`` (default: every pattern type).

    ``phone_regions`` are the ISO country codes tried, in order, for phone numbers written
    without a ``+`` country prefix. Thread-safe: it holds no state across calls.
    """

    def __init__(self, types: Collection[str] | None = None,
                 phone_regions: Iterable[str] = ("US",)) -> None:
        wanted = set(E.PATTERN_TYPES if types is None else types)
        unknown = wanted - set(E.ALL_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {sorted(unknown)}")
        self.types = frozenset(wanted & set(E.PATTERN_TYPES))
        self.phone_regions = tuple(r.upper() for r in phone_regions) or ("US",)
        self._national_lengths = _national_lengths(self.phone_regions)
        self._phone_cache: dict[tuple[str, bool], bool] = {}
        self._token_types = self.types & {g for g in _TOKENS.groupindex}
        families: list[Family] = []
        if E.PRIVATE_KEY in self.types:
            families.append(self._private_keys)
        if E.URL_CREDENTIALS in self.types:
            families.append(self._url_credentials)
        if self._token_types:
            families.append(self._tokens)
        if E.AZURE_KEY in self.types:
            families.append(self._azure)
        if E.SECRET in self.types:
            families.append(self._secrets)
        if E.EMAIL in self.types:
            families.append(self._emails)
        digit_families: list[Family] = [f for t, f in (
            (E.IBAN, self._ibans), (E.CREDIT_CARD, self._cards), (E.US_SSN, self._ssns),
            (E.IP_ADDRESS, self._ipv4), (E.PHONE, self._phones)) if t in self.types]
        if E.DATE_OF_BIRTH in self.types:
            families.append(self._dates)
        self._families = families
        self._digit_families = digit_families
        self._ipv6 = E.IP_ADDRESS in self.types
        self._prefilter = _Prefilter(families, bool(digit_families), self._ipv6)

    def scan(self, text: str, key: str | None = None) -> list[Finding]:
        """Validated findings in ``text``, non-overlapping, ordered by position.

        ``key`` is the attribute name the text is the value of, if any: it is context for the
        types that need it (a birth date under ``date_of_birth``, a secret under ``api_key``).
        """
        found: list[Finding] = []
        families, digits, ipv6 = self._prefilter.families(text)
        if key is not None and E.DATE_OF_BIRTH in self.types and self._dates not in families:
            families = [*families, self._dates]  # a birth-date key is context on its own
        if not families and not digits and not ipv6:
            if key is not None and E.SECRET in self.types:
                self._secret_by_key(text, key, found)
            return found
        lowered = text.lower()
        for family in families:
            family(text, lowered, key, found)
        if digits and _digits_outside_json_numbers(text):
            for family in self._digit_families:
                family(text, lowered, key, found)
        if ipv6 and ("::" in text or text.count(":") - text.count('":') >= 7):
            self._ipv6_addresses(text, found)
        if key is not None and E.SECRET in self.types and not found:
            self._secret_by_key(text, key, found)
        return resolve_overlaps(found) if len(found) > 1 else found

    # -- secrets ------------------------------------------------------------------------------

    def _private_keys(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if "-----BEGIN" in text:
            out.extend(Finding(E.PRIVATE_KEY, m.start(), m.end())
                       for m in _PRIVATE_KEY.finditer(text))

    def _url_credentials(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if "://" in text:
            out.extend(Finding(E.URL_CREDENTIALS, m.start("userinfo"), m.end("userinfo"))
                       for m in _URL_CREDENTIALS.finditer(text))

    def _tokens(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if not _TOKEN_GATE.search(text):
            return
        for m in _TOKENS.finditer(text):
            kind = m.lastgroup or ""
            if kind not in self._token_types:
                continue
            if kind == E.JWT and not V.jwt(m.group()):
                continue
            out.append(Finding(kind, m.start(), m.end()))

    def _azure(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if "AccountKey=" not in text and "SharedAccess" not in text and "sig=" not in text \
                and "Q~" not in text:
            return
        for m in _AZURE.finditer(text):
            group = m.lastgroup or ""
            out.append(Finding(E.AZURE_KEY, m.start(group), m.end(group)))

    def _secrets(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        for word in _SECRET_TRIGGERS:
            start = lowered.find(word)
            while start != -1:
                m = _SECRET_AFTER_WORD.match(lowered, start + len(word))
                if m is not None:
                    value = text[m.start("value"):m.end("value")]
                    if secret_value(value, password=word in ("pass", "pwd")):
                        out.append(Finding(E.SECRET, m.start("value"), m.end("value")))
                start = lowered.find(word, start + len(word))

    def _secret_by_key(self, text: str, key: str, out: list[Finding]) -> None:
        value = text.strip()
        if (len(value) == len(text) and _SECRET_KEY_NAME.search(key)
                and not any(c.isspace() for c in value)
                and secret_value(value, password=bool(_PASSWORD_WORD.search(key)))):
            out.append(Finding(E.SECRET, 0, len(text)))

    # -- personal data ------------------------------------------------------------------------

    def _emails(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if "@" not in text:
            return
        for m in _EMAIL.finditer(text):
            local = m.group("local")
            if local[0] == "." or local[-1] == "." or ".." in local:
                continue
            out.append(Finding(E.EMAIL, m.start(), m.end()))

    def _ibans(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        for m in _IBAN_CANDIDATE.finditer(text):
            raw = m.group()
            length = V.IBAN_LENGTHS.get(raw[:2])
            if length is None:
                continue
            end, kept = m.start(), 0
            for ch in raw:
                end += 1
                if ch != " ":
                    kept += 1
                    if kept == length:
                        break
            if kept == length and V.iban(text[m.start():end].replace(" ", "")):
                out.append(Finding(E.IBAN, m.start(), end))

    def _cards(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        for m in _CARD.finditer(text):
            raw = m.group()
            separators = {c for c in raw if not c.isdigit()}
            if len(separators) > 1:
                continue
            digits = raw.replace(" ", "").replace("-", "")
            if V.card_number(digits):
                out.append(Finding(E.CREDIT_CARD, m.start(), m.end()))

    def _ssns(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        for m in _SSN.finditer(text):
            area, sep, group, serial = m.groups()
            if not V.us_ssn(area, group, serial):
                continue
            if not sep and not (_context(text, m.start(), _SSN_CONTEXT)
                                or (key is not None and _SSN_CONTEXT.search(key.replace(
                                    "_", " ")))):
                continue
            out.append(Finding(E.US_SSN, m.start(), m.end()))

    def _ipv4(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        if "." in text:
            out.extend(Finding(E.IP_ADDRESS, m.start(), m.end()) for m in _IPV4.finditer(text)
                       if V.ip_address(m.group()))

    def _ipv6_addresses(self, text: str, out: list[Finding]) -> None:
        for m in _IPV6.finditer(text):
            candidate = m.group()
            if sum(c.isalnum() for c in candidate) >= 2 and V.ip_address(candidate):
                out.append(Finding(E.IP_ADDRESS, m.start(), m.end()))

    def _dates(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        keyed = key is not None and bool(_DOB_CONTEXT.search(key.replace("_", " ")))
        if not keyed and not any(word in lowered for word in _DOB_TRIGGERS):
            return
        previous_end = 0
        for m in _DATE.finditer(text):
            # the birth word must come after the previous date: "born 1990-01-02, seen 2024-05-06"
            window_start = max(previous_end, m.start() - _CONTEXT_CHARS)
            if keyed or _DOB_CONTEXT.search(text, window_start, m.start()):
                out.append(Finding(E.DATE_OF_BIRTH, m.start(), m.end()))
            previous_end = m.end()

    def _phones(self, text: str, lowered: str, key: str | None,
                 out: list[Finding]) -> None:
        for m in _PHONE.finditer(text):
            candidate = m.group()
            number = _PHONE_EXTENSION.sub("", candidate)
            digits = sum(c.isdigit() for c in number)
            if (not 7 <= digits <= 15 or _DATE.search(number) or _IPV4.search(number)
                    or _DECIMAL.fullmatch(number)
                    or (m.start() and text[m.start() - 1] in _CURRENCY)):
                continue
            if self._valid_phone(number, grouped=bool(_GROUPED_PHONE.fullmatch(number))):
                out.append(Finding(E.PHONE, m.start(), m.end()))

    def _valid_phone(self, number: str, *, grouped: bool) -> bool:
        """A number ``phonenumbers`` finds valid (an assigned range) in one of the regions —
        or, when it is written the way phone numbers are (``(415) 555-0100``, ``+1-415-...``,
        ``001-415-...``), one of possible length for its country.

        A national number whose digit count no region allows is rejected before
        ``phonenumbers`` (which costs tens of microseconds) is asked; answers are cached.
        """
        international = number.startswith(("+", "00"))
        if not international and sum(c.isdigit() for c in number) not in self._national_lengths:
            return False
        cache_key = (number, grouped)
        known = self._phone_cache.get(cache_key)
        if known is not None:
            return known
        valid = self._ask_phonenumbers(number, grouped=grouped, international=international)
        if len(self._phone_cache) >= 50_000:
            self._phone_cache.clear()
        self._phone_cache[cache_key] = valid
        return valid

    def _ask_phonenumbers(self, number: str, *, grouped: bool, international: bool) -> bool:
        if number.startswith("00"):
            number = "+" + number[2:]
        regions: tuple[str | None, ...] = (None,) if international else self.phone_regions
        for region in regions:
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed) or (
                    grouped and phonenumbers.is_possible_number(parsed)):
                return True
        return False


_GROUPED_PHONE = re.compile(r"(?:\+\d{1,3}[ .\-]?|00\d{1,3}[ .\-])?"
                            r"(?:\(\d{2,4}\) ?|\d{2,4}[ .\-])\d{3,4}[ .\-]\d{3,4}")
"""Digits in the groups phone numbers are written in, with separators."""
_DECIMAL = re.compile(r"\d+[.,]\d{1,2}")
_CURRENCY = frozenset("$€£¥₹")


_GATE_PATTERNS: dict[str, str] = {
    "_private_keys": r"-----BEGIN",
    "_url_credentials": r"://",
    "_tokens": _TOKEN_GATE.pattern,
    "_azure": r"AccountKey=|SharedAccess|sig=|Q~",
    "_secrets": r"(?i)key|secret|token|pass|pwd|credential|auth",
    "_emails": r"@",
    "_dates": r"(?i)born|birth|dob|d\.o\.b",
    "digits": r"(?:^|[^\d:,\[\-.])\d(?:[ \t().\-]?\d){6}|\d\.\d{1,3}\.\d{1,3}\.\d",
    "ipv6": r"::|(?:[0-9a-fA-F]{1,4}:){3}",
}
"""What each detector family cannot match without; compiled into one RE2 set."""


class _Prefilter:
    """Which detector families can match a text, from one RE2 set pass (about 200 MB/s).

    Without RE2 (not installed, or text RE2 cannot encode: lone surrogates) every family runs
    and each applies its own cheaper-than-regex gate.
    """

    def __init__(self, families: list[Family], digits: bool, ipv6: bool) -> None:
        self.all = (families, digits, ipv6)
        self.names: list[str] = []
        self.targets: list[Family | str] = []
        for family in families:
            self.names.append(family.__name__)
            self.targets.append(family)
        if digits:
            self.names.append("digits")
            self.targets.append("digits")
        if ipv6:
            self.names.append("ipv6")
            self.targets.append("ipv6")
        self.set: Any = None
        if re2 is not None and self.names:
            options = re2.Options()
            options.max_mem = 64 << 20
            compiled = re2.Set.SearchSet(options)
            for name in self.names:
                compiled.Add(_GATE_PATTERNS[name])
            compiled.Compile()
            self.set = compiled

    def families(self, text: str) -> tuple[list[Family], bool, bool]:
        if self.set is None:
            return self.all
        try:
            hits = self.set.Match(text)
        except UnicodeEncodeError:
            return self.all
        if not hits:
            return [], False, False
        families = []
        digits = ipv6 = False
        for i in hits:
            target = self.targets[i]
            if target == "digits":
                digits = True
            elif target == "ipv6":
                ipv6 = True
            elif not isinstance(target, str):
                families.append(target)
        return families, digits, ipv6


_IBAN_CANDIDATE = re.compile(
    r"(?:(?<=\\[nrt])|(?<![A-Za-z0-9]))[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}")


def secret_value(value: str, *, password: bool) -> bool:
    """Whether ``value`` (found after a secret-ish word) looks like a real secret.

    A password needs 6+ characters and a digit or symbol, or 12+ characters; a key, token or
    secret needs 16+ characters, two character classes and Shannon entropy of 3 bits/character
    or more. Placeholders (``<...>``, ``${...}``, ``***``) and words like ``required`` never count.
    """
    lowered = value.lower().strip(".")
    if (lowered in _NON_SECRET_VALUES or value.startswith(("<", "$", "{", "%", "*"))
            or set(value) <= {"*", "x", "X", "#", "."}):
        return False
    if password:
        return len(value) >= 12 or (len(value) >= 6 and any(not c.isalpha() for c in value))
    return (len(value) >= 16 and V.char_classes(value) >= 2
            and V.shannon_entropy(value) >= 3.0)


def _national_lengths(regions: tuple[str, ...]) -> frozenset[int]:
    """Digit counts a number written without ``+`` may have in ``regions``: the national
    lengths, plus one for a trunk prefix (``0``, ``1``) and plus the country code."""
    lengths: set[int] = set()
    for region in regions:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.general_desc is None:
            return frozenset(range(7, 16))
        national = set(meta.general_desc.possible_length or ())
        code = len(str(meta.country_code or ""))
        lengths |= national | {n + 1 for n in national} | {n + code for n in national}
    return frozenset(lengths)


def _digits_outside_json_numbers(text: str) -> bool:
    """Whether ``text`` has a digit run that is not a JSON number (after ``:``, ``,``, ``[``).

    JSON attributes are full of timestamps and counts; this keeps them from waking the
    digit-based detectors when no string value holds digits. (A lookbehind in the pattern
    would do the same at a seventh of the speed.)
    """
    for m in _DIGIT_RUN.finditer(text):
        start = m.start()
        if start == 0 or text[start - 1] not in ":,[-.0123456789":
            return True
    return False


def _context(text: str, start: int, pattern: re.Pattern[str]) -> bool:
    return pattern.search(text, max(0, start - _CONTEXT_CHARS), start) is not None


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings by position; of two that overlap, the higher-priority type wins,
    then the longer one."""
    ranked = sorted(findings, key=lambda f: (-PRIORITY.get(f.type, 0), f.start - f.end, f.start))
    taken: list[Finding] = []
    for f in ranked:
        if all(f.end <= t.start or f.start >= t.end for t in taken):
            taken.append(f)
    taken.sort(key=lambda f: f.start)
    return taken

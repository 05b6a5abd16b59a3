"""The vocabulary of safety events: entity types the guard detects, and the event kinds.

Type names are what redaction writes (``<EMAIL>``), what policies name, and the ``type`` label
of safety events. They follow Presidio's names where Presidio has one, so findings of the
optional NER backend (``PERSON``, ``LOCATION``) fit in beside the pattern detectors' own.
"""

from __future__ import annotations

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
US_SSN = "US_SSN"
IP_ADDRESS = "IP_ADDRESS"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
URL_CREDENTIALS = "URL_CREDENTIALS"
PERSON = "PERSON"
LOCATION = "LOCATION"

AWS_KEY = "AWS_KEY"
GCP_KEY = "GCP_KEY"
AZURE_KEY = "AZURE_KEY"
GITHUB_TOKEN = "GITHUB_TOKEN"
GITLAB_TOKEN = "GITLAB_TOKEN"
SLACK_TOKEN = "SLACK_TOKEN"
STRIPE_KEY = "STRIPE_KEY"
OPENAI_KEY = "OPENAI_KEY"
ANTHROPIC_KEY = "ANTHROPIC_KEY"
JWT = "JWT"
PRIVATE_KEY = "PRIVATE_KEY"
SECRET = "SECRET"
"""A high-entropy value next to a word like key, token, secret or password."""

PII_TYPES: tuple[str, ...] = (
    EMAIL, PHONE, CREDIT_CARD, IBAN, US_SSN, IP_ADDRESS, DATE_OF_BIRTH,
)
SECRET_TYPES: tuple[str, ...] = (
    URL_CREDENTIALS, AWS_KEY, GCP_KEY, AZURE_KEY, GITHUB_TOKEN, GITLAB_TOKEN, SLACK_TOKEN,
    STRIPE_KEY, OPENAI_KEY, ANTHROPIC_KEY, JWT, PRIVATE_KEY, SECRET,
)
NER_TYPES: tuple[str, ...] = (PERSON, LOCATION)
"""Found only by the optional NER backend (Presidio/spaCy with a model installed)."""

PATTERN_TYPES: tuple[str, ...] = PII_TYPES + SECRET_TYPES
ALL_TYPES: tuple[str, ...] = PATTERN_TYPES + NER_TYPES


def category(entity_type: str) -> str:
    """``secret`` for credentials and keys, ``pii`` for everything else."""
    return "secret" if entity_type in SECRET_TYPES else "pii"


SAFETY_EVENT = "truecourse.safety"
"""Name of the span event (and log attribute) that carries a row's safety findings."""

KIND_PII = "pii"
KIND_SECRET = "secret"
KIND_INJECTION = "prompt_injection"
KIND_UNSCANNED = "unscanned"
SAFETY_KINDS: tuple[str, ...] = (KIND_PII, KIND_SECRET, KIND_INJECTION, KIND_UNSCANNED)

MASK_ACTIONS: tuple[str, ...] = ("redact", "hash", "partial", "drop", "keep")
"""What a masking policy does with a finding: ``<EMAIL>``, ``<EMAIL:hmac>``, ``****1234``,
remove the attribute (NULL for a column), or leave it (still counted)."""

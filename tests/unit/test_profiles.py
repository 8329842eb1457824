"""Backends as profiles, client settings as one value.

Everything that differs between Mistral's API and vLLM is an attribute or method of
the dialect (``_dialects``); nothing else compares backend names. These tests pin
that rule on the package's code, show that the profile is what decides (a profile
changed in one place changes every caller), and check ``ClientSettings``, the value
the clients and adapters are built from.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import httpx
import pytest

import voxtral_integrations
from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import ConfigurationError, UnsupportedFeatureError, VoxtralClient
from voxtral_integrations._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, VLLM_LIMITS
from voxtral_integrations._dialects import (
    BACKENDS,
    DIALECTS,
    MistralDialect,
    VLLMDialect,
    dialect,
)
from voxtral_integrations._loading import LoadOptions
from voxtral_integrations._options import ChunkingOptions
from voxtral_integrations._settings import CLIENT_SETTINGS, ClientSettings
from voxtral_integrations.llama_index import VoxtralToolSpec
from voxtral_integrations.llama_index.llms import tool_choice_param

PACKAGE = Path(voxtral_integrations.__file__).parent


def _backend_comparisons(tree: ast.AST) -> list[int]:
    """Lines comparing something with a backend name (``x == "vllm"``, ``"mistral" in x``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in BACKENDS for o in operands):
                found.append(node.lineno)
    return sorted(found)


def test_no_backend_name_is_compared_outside_the_dialects() -> None:
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_dialects.py"
        and (lines := _backend_comparisons(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert found == {}


def test_the_check_finds_a_backend_comparison() -> None:
    code = 'x = 1 if backend == "vllm" else 2\nif "mistral" != name: pass\n'
    assert _backend_comparisons(ast.parse(code)) == [1, 2]


def test_every_backend_has_a_profile_and_an_unknown_one_is_refused() -> None:
    assert set(DIALECTS) == set(BACKENDS)
    assert all(dialect(name).name == name for name in BACKENDS)
    with pytest.raises(ConfigurationError, match=r"Unknown backend 'openai'.*'mistral'.*'vllm'"):
        dialect("openai")


def test_the_profiles_say_what_differs() -> None:
    mistral, vllm = MistralDialect(), VLLMDialect()
    assert (mistral.reads_environment, vllm.reads_environment) == (True, False)
    assert (mistral.requires_key, vllm.requires_key) == (True, False)
    assert (mistral.supports_timestamps, vllm.supports_timestamps) == (True, False)
    assert (mistral.supports_files, vllm.supports_files) == (True, False)
    assert (mistral.force_tool_choice, vllm.force_tool_choice) == ("any", "required")
    assert (mistral.ls_provider, vllm.ls_provider) == ("mistral", "vllm")
    assert vllm.default_base_url == "http://localhost:8000/v1"
    assert mistral.default_base_url == "https://api.mistral.ai/v1"
    assert vllm.limits_for("voxtral-mini-latest") == VLLM_LIMITS


def test_a_profile_changed_in_one_place_changes_every_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A vLLM that served timestamps (a newer release, say) is one attribute away."""
    timed = LoadOptions(granularity="segment")
    with pytest.raises(UnsupportedFeatureError, match="segment timestamps"):
        timed.check_backend("vllm")
    assert tool_choice_param("any", [], backend="vllm") == "required"
    monkeypatch.setattr(VLLMDialect, "supports_timestamps", True)
    monkeypatch.setattr(VLLMDialect, "force_tool_choice", "any")
    timed.check_backend("vllm")  # no longer refused
    assert tool_choice_param("any", [], backend="vllm") == "any"


def test_chunking_is_checked_against_the_profile_limit() -> None:
    limit = VLLM_LIMITS.max_seconds
    VLLMDialect().check_chunking(ChunkingOptions(max_chunk_seconds=limit), "any-model")
    with pytest.raises(voxtral_integrations.InvalidInputError, match="one request to vLLM"):
        VLLMDialect().check_chunking(ChunkingOptions(max_chunk_seconds=limit + 1), "any-model")


# --------------------------------------------------------------------------- settings


def test_settings_are_taken_by_name_and_the_key_never_shows() -> None:
    arguments = {
        "self": object(),
        "api_key": FAKE_API_KEY,
        "backend": "vllm",
        "model": "not-a-setting",
        "max_retries": 5,
    }
    settings = ClientSettings.of(arguments)
    assert settings == ClientSettings.of({**arguments, "model": "other"})
    assert (settings.backend, settings.max_retries, settings.base_url) == ("vllm", 5, None)
    assert settings.key == FAKE_API_KEY
    assert FAKE_API_KEY not in repr(settings) and FAKE_API_KEY not in str(settings)
    assert FAKE_API_KEY not in repr(settings.resolved())
    assert settings.without_key().api_key is None
    assert set(settings.arguments()) == set(CLIENT_SETTINGS)
    assert settings.arguments()["api_key"] == FAKE_API_KEY


def test_the_mistral_environment_applies_to_mistral_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("MISTRAL_BASE_URL", "https://gateway.example/v1/")
    mistral = ClientSettings().resolved()
    assert (mistral.key, mistral.base_url) == (FAKE_API_KEY, "https://gateway.example/v1")
    vllm = ClientSettings(backend="vllm").resolved()
    assert (vllm.key, vllm.base_url) == (None, "http://localhost:8000/v1")
    assert vllm.timeout == DEFAULT_TIMEOUT and mistral.max_retries == DEFAULT_MAX_RETRIES


def test_resolved_settings_are_what_the_client_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="No API key"):
        ClientSettings().resolved()
    resolved = ClientSettings.of({"api_key": FAKE_API_KEY, "timeout": 3}).resolved()
    assert resolved.timeout == httpx.Timeout(3)
    with VoxtralClient(FAKE_API_KEY, timeout=3) as client:
        assert (client.base_url, client._timeout) == (resolved.base_url, resolved.timeout)


def test_an_adapter_pickles_its_settings_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    spec = VoxtralToolSpec(api_key=FAKE_API_KEY)
    data = pickle.dumps(spec)
    assert FAKE_API_KEY.encode() not in data
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-from-the-environment-0123456789")
    restored = pickle.loads(data)
    assert restored._settings == ClientSettings()
    assert restored._settings.resolved().key == "sk-from-the-environment-0123456789"

"""Write the offline cassettes from the documented answers in ``cassette_scenarios``.

Run from the repository root::

    python tests/build_documented_cassettes.py

Each scenario's calls run through the real client against an in-process
transport that gives the documented answers; every request and answer is then
passed through the same scrubbing and canonicalisation as a live recording and
written in vcrpy's format. The cassettes so made are *constructed*, not recorded:
``cassettes/README.md`` says so for each one.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from vcr.request import Request as VcrRequest
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cassette_scenarios import SCENARIOS, Scenario
from tests.support.cassette_support import before_record_request, before_record_response
from voxtral_integrations import VoxtralClient, VoxtralError

CASSETTE_DIR = Path(__file__).resolve().parents[1] / "cassettes"
PLACEHOLDER_KEY = "sk-constructed-cassette"


def build(scenario: Scenario) -> str:
    answers = list(scenario.answers)
    requests: list[Any] = []
    responses: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        given = answers.pop(0)
        body = given.body if isinstance(given.body, str) else json.dumps(given.body, indent=1)
        reason = httpx.codes.get_reason_phrase(given.status)
        headers = {"content-type": given.content_type}
        requests.append(
            before_record_request(
                VcrRequest(request.method, str(request.url), request.read(), dict(request.headers))
            )
        )
        responses.append(
            before_record_response(
                {
                    "status": {"code": given.status, "message": reason},
                    "headers": {name: [value] for name, value in headers.items()},
                    "body": {"string": body},
                }
            )
        )
        return httpx.Response(given.status, headers=headers, content=body.encode())

    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = VoxtralClient(api_key=PLACEHOLDER_KEY, http_client=http, max_retries=0)
    with contextlib.suppress(VoxtralError):  # the error scenarios end in the documented error
        scenario.run(client)
    if answers:
        raise SystemExit(f"{len(answers)} answers were not asked for")
    text: str = serialize({"requests": requests, "responses": responses}, yamlserializer)
    return text


def main() -> None:
    for name, scenario in SCENARIOS.items():
        path = CASSETTE_DIR / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build(scenario), encoding="utf-8")
        print(f"wrote cassettes/{name}.yaml  ({scenario.origin})")  # noqa: T201


if __name__ == "__main__":
    main()

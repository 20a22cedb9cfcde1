"""OAuth 2.0 device authorization (RFC 8628), as GitHub implements it: a code for the person to
enter at a URL, then polling the token endpoint until they approve, decline or the code expires.

``DevicePoll`` is the state machine, free of I/O: it is told each poll's answer and the time,
and says what to do next (wait ``interval`` seconds, or the token). ``request_code`` and
``wait_for_token`` are the thin I/O shell any login (Copilot, ChatGPT) drives it with; the sleep
and the clock are passed in, so tests run without waiting.

GitHub's answers (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow):
the token endpoint answers 200 with an ``error`` while there is none: ``authorization_pending``
(poll again at the same interval), ``slow_down`` (add 5 seconds to the interval, for good),
``expired_token`` (the code's ``expires_in`` passed), ``access_denied`` (the person declined).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds slow_down adds (RFC 8628 §3.5)
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: "If no value is provided, clients MUST use 5"
_FORM = {"accept": "application/json", "content-type": "application/x-www-form-urlencoded"}


class LoginFailed(Exception):
    """The login ended without a token; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceCode:
    """The device-code answer: what the person enters where, and how to poll."""

    device_code: str = dataclasses.field(repr=False)  # a secret until it expires
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int

    @classmethod
    def from_answer(cls, payload: Any) -> DeviceCode:
        if not isinstance(payload, Mapping):
            raise LoginFailed("the device-code answer is not a JSON object")
        if "error" in payload:
            raise LoginFailed(f"the login was refused: {_describe(payload)}")
        try:
            return cls(
                device_code=str(payload["device_code"]),
                user_code=str(payload["user_code"]),
                verification_uri=str(payload["verification_uri"]),
                expires_in=int(payload.get("expires_in", 900)),
                interval=int(payload.get("interval", DEFAULT_INTERVAL)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LoginFailed(f"the device-code answer lacks {exc}") from None


class Step(enum.Enum):
    WAIT = "wait"  # poll again after ``interval`` seconds
    DONE = "done"  # ``token`` holds the access token answer


@dataclasses.dataclass(frozen=True, slots=True)
class Next:
    step: Step
    interval: int
    token: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False)


class DevicePoll:
    """The polling half of the flow. ``answer(payload, now)`` after each poll; raises
    ``LoginFailed`` when the flow is over without a token."""

    def __init__(self, code: DeviceCode, started: float, *, login_hint: str) -> None:
        self.interval = max(code.interval, 1)
        self._deadline = started + code.expires_in
        self._hint = login_hint  # the command that starts over, for the messages

    def answer(self, payload: Any, now: float) -> Next:
        if not isinstance(payload, Mapping):
            raise LoginFailed("the token endpoint's answer is not a JSON object")
        error = payload.get("error")
        if error is None and isinstance(payload.get("access_token"), str):
            return Next(Step.DONE, self.interval, payload)
        if error == "slow_down":
            # GitHub sends the new interval too; never poll faster than the old one plus 5 s.
            given = payload.get("interval")
            step = self.interval + SLOW_DOWN_STEP
            self.interval = max(step, given) if isinstance(given, int) else step
        elif error == "expired_token" or (
            error == "authorization_pending" and now >= self._deadline
        ):
            raise LoginFailed(f"the code expired before it was entered; run `{self._hint}` again")
        elif error == "access_denied":
            raise LoginFailed(f"the authorization was declined; run `{self._hint}` to try again")
        elif error != "authorization_pending":
            raise LoginFailed(f"the login failed: {_describe(payload)}")
        return Next(Step.WAIT, self.interval)


def _describe(payload: Mapping[str, Any]) -> str:
    text = payload.get("error_description") or payload.get("error") or "no reason given"
    return str(text)[:300]


async def _post_form(session: aiohttp.ClientSession, url: str, form: Mapping[str, str]) -> Any:
    try:
        async with session.post(url, data=dict(form), headers=_FORM) as response:
            raw = await response.read()
            if response.status >= 500:
                raise LoginFailed(f"{url} answered HTTP {response.status}; try again later")
    except aiohttp.ClientError as exc:
        raise LoginFailed(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise LoginFailed(f"{url} answered HTTP {response.status} without JSON") from None


async def request_code(
    session: aiohttp.ClientSession, url: str, client_id: str, scope: str
) -> DeviceCode:
    return DeviceCode.from_answer(
        await _post_form(session, url, {"client_id": client_id, "scope": scope})
    )


async def wait_for_token(
    session: aiohttp.ClientSession,
    url: str,
    client_id: str,
    code: DeviceCode,
    *,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
    login_hint: str,
) -> Mapping[str, Any]:
    """Poll until the token comes; the interval ``DevicePoll`` keeps is slept before each poll."""
    poll = DevicePoll(code, clock(), login_hint=login_hint)
    form = {"client_id": client_id, "device_code": code.device_code, "grant_type": GRANT_TYPE}
    while True:
        await sleep(poll.interval)
        step = poll.answer(await _post_form(session, url, form), clock())
        if step.step is Step.DONE:
            assert step.token is not None
            return step.token

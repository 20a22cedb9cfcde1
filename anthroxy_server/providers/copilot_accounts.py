"""A ``copilot`` provider with several named logins (``accounts``): each request uses the
account the credential pool picks (``credentials.py``: its conversation's, else the next by
``rotation``), with that account's own Copilot token and API base.

After an answer that concerns the account (``reissue``):

* 429, or a quota error under another status: the account rests for the provider's
  ``retry-after`` (``cooldown.py``) and the request goes to the next account at once;
* 401: the account's token is exchanged again once (Copilot's own re-authentication); a
  second 401, or a 402/403, sets the account aside with a warning naming it, never a token;
* an account whose login cannot be read (never logged in, logged out) is set aside the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from anthroxy.errors import AnthroxyError, AuthenticationFailed
from anthroxy.upstream_errors import error_from_upstream

from ..gateway.call import Call
from ..gateway.dialects import Plan
from .base import Outgoing
from .cooldown import cooldown_seconds
from .copilot import QUOTA_CODES, CopilotAccess, auth_for, error_code
from .credentials import Credential, CredentialPool, pool_for, session_of
from .key_access import none_usable


class CopilotAccountsAccess(CopilotAccess):
    """``CopilotAccess`` over the accounts of the provider's pool."""

    def __init__(self, call: Call, pool: CredentialPool) -> None:
        self._pool = pool
        self._session_key = session_of(call.request.headers, call.body)
        self._lease: Credential | None = pool.pick(self._session_key)
        self._tried: frozenset[str] = frozenset()
        super().__init__(call)

    def _account(self) -> str | None:
        if self._lease is None:
            raise none_usable(self._provider.id, self._pool, "account")
        return self._lease.account

    async def outgoing(self, plan: Plan) -> Outgoing:
        while True:
            try:
                return await super().outgoing(plan)
            except AuthenticationFailed:  # this account's login is missing or unreadable
                if not await self._next(401):
                    raise

    async def reissue(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> Outgoing | None:
        assert self._token is not None and self._lease is not None  # outgoing() came first
        if status == 401 and not self._renewed and self._token.exchanged:
            self._renewed = True  # the account's own re-authentication, once
            self._token = await self._auth.renew(self._call.session, self._token)
            return self._request(self._token)
        pool, lease = self._pool, self._lease
        code, message = error_code(body)
        err = error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        if err.status == 429 or code in QUOTA_CODES or "quota" in message.lower():
            pool.cool(lease, cooldown_seconds(err.retry_after, headers, now=pool.wall()))
            self._tried |= {lease.id}
            following = pool.pick(self._session_key, exclude=self._tried)
            return await self._start(following) if following is not None else None
        if not await self._next(status):
            return None
        return await self._start(self._lease)

    async def _next(self, status: int) -> bool:
        """Set the current account aside (``status``) and move to the next usable one."""
        assert self._lease is not None
        self._pool.refuse(self._lease, status)
        self._tried |= {self._lease.id}
        following = self._pool.pick(self._session_key, exclude=self._tried)
        if following is None:
            return False
        self._switch(following)
        return True

    def _switch(self, lease: Credential) -> None:
        self._lease = lease
        self._auth = auth_for(self._call.request.app, self._provider, lease.account)
        self._renewed = False

    async def _start(self, lease: Credential) -> Outgoing:
        if lease is not self._lease:
            self._switch(lease)
        return await self.outgoing(self._plan)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        err = super().error(status, body, headers)
        wait = self._pool.wait()
        if err.status == 429 and wait is not None:
            err.retry_after = wait  # every account rests: the first free one is the answer
        if status in (401, 403) and self._pool.wait() is None:
            return none_usable(self._provider.id, self._pool, "account")
        return err


def access(call: Call) -> CopilotAccess:
    """Copilot's access: over the accounts when the provider names some."""
    pool = pool_for(call.request, call.provider) if call.provider.accounts else None
    return CopilotAccess(call) if pool is None else CopilotAccountsAccess(call, pool)

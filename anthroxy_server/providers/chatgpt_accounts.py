"""A ChatGPT provider with several named logins (``accounts``): each request uses the account
the credential pool picks (``account_lease.py``), with that account's own tokens (its file
``<provider>-<account>.json``, refreshed as the one login is).

After an answer that concerns the account (``reissue``): a 429 (the backend's
``usage_limit_reached`` among them) rests it; a 401 first goes through the account's own
recovery (re-read its file, then refresh once), and one that survives it, or a 402/403, sets the
account aside; an account whose login cannot be read is set aside too. The request then goes to
the next account.
"""

from __future__ import annotations

from collections.abc import Mapping

from anthroxy.errors import AnthroxyError, AuthenticationFailed

from ..gateway.call import Call
from ..gateway.dialects import Plan
from .account_lease import AccountLease, over_accounts
from .base import Outgoing
from .chatgpt import ChatGPTAccess, credentials_for
from .credentials import CredentialPool, pool_for, session_of


class ChatGPTAccountsAccess(ChatGPTAccess):
    """``ChatGPTAccess`` over the accounts of the provider's pool."""

    def __init__(self, call: Call, pool: CredentialPool) -> None:
        session = session_of(call.request.headers, call.body)
        self._lease = AccountLease(call.provider.id, pool, session, call.access)
        super().__init__(call)

    def _account(self) -> str | None:
        return self._lease.account

    async def outgoing(self, plan: Plan) -> Outgoing:
        first = super().outgoing
        return await over_accounts(self._lease, lambda: first(plan), self._switch)

    async def reissue(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> Outgoing | None:
        if status == 401:
            try:
                retry = await self.reauthenticate(body)  # the account's own recovery
            except AuthenticationFailed:
                retry = None
            if retry is not None:
                return Outgoing(self._url, self._data, retry)
            self._lease.refused(401)
        elif not self._lease.limited(status, body, headers, quota=False):
            self._lease.refused(status)
        if self._lease.current is None:
            return None
        self._switch()
        return await self.outgoing(self._plan)

    def _switch(self) -> None:
        app = self._call.request.app
        self._credentials = credentials_for(app, self._provider, self._lease.account)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        return self._lease.final(status, super().error(status, body, headers))


def access(call: Call) -> ChatGPTAccess:
    """ChatGPT's access: over the accounts when the provider names some."""
    pool = pool_for(call.request, call.provider) if call.provider.accounts else None
    return ChatGPTAccess(call) if pool is None else ChatGPTAccountsAccess(call, pool)

"""A ``copilot`` provider with several named logins (``accounts``): each request uses the
account the credential pool picks (``account_lease.py``), with that account's own Copilot token
and API base.

After an answer that concerns the account (``reissue``): a 429, or a quota error under another
status, rests it; a 401 first exchanges the account's token again once (Copilot's own
re-authentication), a second 401 or a 402/403 sets it aside; an account whose login cannot be
read (never logged in, logged out) is set aside too. The request then goes to the next account.
"""

from __future__ import annotations

from collections.abc import Mapping

from anthroxy.errors import AnthroxyError

from ..gateway.call import Call
from ..gateway.dialects import Plan
from .account_lease import AccountLease, over_accounts
from .base import Outgoing
from .copilot import QUOTA_CODES, CopilotAccess, auth_for, error_code
from .credentials import CredentialPool, pool_for, session_of


class CopilotAccountsAccess(CopilotAccess):
    """``CopilotAccess`` over the accounts of the provider's pool."""

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
        assert self._token is not None  # outgoing() came first
        if status == 401 and not self._renewed and self._token.exchanged:
            self._renewed = True  # the account's own re-authentication, once
            self._token = await self._auth.renew(self._call.session, self._token)
            return self._request(self._token)
        code, message = error_code(body)
        quota = code in QUOTA_CODES or "quota" in message.lower()
        if not self._lease.limited(status, body, headers, quota):
            self._lease.refused(status)
        if self._lease.current is None:
            return None
        self._switch()
        return await self.outgoing(self._plan)

    def _switch(self) -> None:
        self._auth = auth_for(self._call.request.app, self._provider, self._lease.account)
        self._renewed = False

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        return self._lease.final(status, super().error(status, body, headers))


def access(call: Call) -> CopilotAccess:
    """Copilot's access: over the accounts when the provider names some."""
    pool = pool_for(call.request, call.provider) if call.provider.accounts else None
    return CopilotAccess(call) if pool is None else CopilotAccountsAccess(call, pool)

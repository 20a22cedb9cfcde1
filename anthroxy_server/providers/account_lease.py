"""Which of a provider's named logins (``accounts``) one request uses, and where it goes after
an answer that concerns that account: the part the Copilot and ChatGPT accesses share
(``copilot_accounts.py``, ``chatgpt_accounts.py``).

The pool (``credentials.py``) picks the account: the conversation's while it is usable, else the
next by ``rotation``. After a 429 or a quota error the account rests for the provider's
``retry-after`` (``cooldown.py``); after a refusal that the provider's own re-authentication did
not cure it is set aside with a warning naming the account. Either way the request moves on to
the next usable account at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from anthroxy.errors import AnthroxyError, AuthenticationFailed
from anthroxy.upstream_errors import error_from_upstream

from ..gateway.state import AccessInfo
from .base import Outgoing
from .cooldown import cooldown_seconds
from .credentials import Credential, CredentialPool
from .key_access import none_usable


class AccountLease:
    def __init__(
        self,
        provider_id: str,
        pool: CredentialPool,
        session: str | None,
        access: AccessInfo | None = None,
    ) -> None:
        self._pid = provider_id
        self._access = access  # told the account used (the usage ledger's credential column)
        self.pool = pool
        self._session = session
        self.current: Credential | None = pool.pick(session)
        self._tried: frozenset[str] = frozenset()

    @property
    def account(self) -> str:
        """The account to use now; the pool's answer when none is usable."""
        if self.current is None or self.current.account is None:
            raise none_usable(self._pid, self.pool, "account")
        if self._access is not None:
            self._access.credential = self.current.label
        return self.current.account

    def limited(self, status: int, body: bytes, headers: Mapping[str, str], quota: bool) -> bool:
        """Rest the account if this answer is a rate limit (429, or ``quota``), then move on;
        False when it is not one."""
        err = error_from_upstream(status, body, provider=self._pid, headers=headers)
        if err.status != 429 and not quota:
            return False
        assert self.current is not None
        self.pool.cool(
            self.current, cooldown_seconds(err.retry_after, headers, now=self.pool.wall())
        )
        self._move_on()
        return True

    def refused(self, status: int) -> None:
        """Set the account aside (its login refused or unreadable) and move on."""
        assert self.current is not None
        self.pool.refuse(self.current, status)
        self._move_on()

    def _move_on(self) -> None:
        assert self.current is not None
        self._tried |= {self.current.id}
        self.current = self.pool.pick(self._session, exclude=self._tried)

    def final(self, status: int, err: AnthroxyError) -> AnthroxyError:
        """The answer when no account is left: the shortest rest, or every refusal."""
        wait = self.pool.wait()
        if err.status == 429 and wait is not None:
            err.retry_after = wait  # every account rests: the first free one is the answer
        if status in (401, 403) and wait is None and self.pool.refusals():
            return none_usable(self._pid, self.pool, "account")
        return err


async def over_accounts(
    lease: AccountLease,
    attempt: Callable[[], Awaitable[Outgoing]],
    switch: Callable[[], None],
) -> Outgoing:
    """The request as the current account makes it; an account whose login is missing or
    unreadable is set aside and the next one tries (``switch`` moves the access onto it)."""
    while True:
        try:
            return await attempt()
        except AuthenticationFailed as exc:
            lease.refused(401)
            if lease.current is None:
                raise lease.final(401, exc) from None
            switch()

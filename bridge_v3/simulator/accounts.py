"""The trade accounts a simulated terminal knows, and which one it is logged in to.

A real terminal is logged in to one account at a time, or to none (a fresh install, or
after a failed authorisation at start-up): then ``initialize()`` still attaches to it, but
``account_info()`` returns None and nothing can be traded. ``login()`` and
``initialize(login=...)`` switch the whole terminal to another account; each account has
its own paper account here, so positions and history wait for it across switches.

Authorisation, as the real module reports it: an unknown login, a server other than the
account's, or a wrong password fail with (-6, 'Terminal: Authorization failed'). Without a
password the terminal uses the one it has saved, which it has only for accounts it was
logged in to before; otherwise that is an authorisation failure too. A failed switch
leaves the terminal on the account it had (the real terminal's behaviour here is not
documented; this is the choice that loses nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge_v3.simulator.contract.arguments import Credentials
from bridge_v3.simulator.contract.errors import RES_E_AUTH_FAILED, RES_E_FAIL, CallFailed

# What account_info() and the trading getters report while nobody is logged in. The
# reference lists no code for this case; the generic terminal failure is assumed
# (unverified on a live terminal).
NOT_LOGGED_IN = RES_E_FAIL


class Accounts:
    """Paper brokers by login; ``password`` (None: any) is what every account accepts."""

    def __init__(
        self,
        primary: Any,
        password: str | None,
        others: Sequence[Any] = (),
        *,
        logged_in: bool = True,
    ) -> None:
        self._password = password
        self._primary = primary
        self._brokers: dict[int, Any] = {}
        for broker in (primary, *others):
            login = broker.config.login
            if login in self._brokers:
                raise ValueError(f"two simulated accounts share the login {login}")
            self._brokers[login] = broker
        self._remembered: set[int] = set()
        self._current: int | None = None
        if logged_in:
            self._switch(primary.config.login)

    @property
    def current(self) -> Any | None:
        """The broker of the account logged in to, or None."""
        return None if self._current is None else self._brokers[self._current]

    def logged_in(self) -> Any:
        """The current broker; CallFailed with NOT_LOGGED_IN when there is none."""
        broker = self.current
        if broker is None:
            raise CallFailed(NOT_LOGGED_IN)
        return broker

    def any_broker(self) -> Any:
        """The current broker, else the first configured one (for prices and the company)."""
        return self.current or self._primary

    def brokers(self) -> list[Any]:
        return list(self._brokers.values())

    def authorise(self, credentials: Credentials) -> None:
        """Apply what initialize()/login() were given: switch account, or check the current.

        Raises CallFailed (-6, result False) on wrong credentials.
        """
        if credentials.login is None:
            self._check_current(credentials)
            return
        broker = self._brokers.get(credentials.login)
        if broker is None or not self._accepts(broker, credentials):
            raise CallFailed(RES_E_AUTH_FAILED, result=False)
        self._switch(credentials.login)

    def _check_current(self, credentials: Credentials) -> None:
        broker = self.current
        if broker is not None and not self._accepts(broker, credentials, saved=True):
            raise CallFailed(RES_E_AUTH_FAILED, result=False)

    def _accepts(self, broker: Any, credentials: Credentials, saved: bool = False) -> bool:
        if credentials.server is not None and credentials.server != broker.config.server:
            return False
        if credentials.password is None:
            return saved or broker.config.login in self._remembered
        return self._password is None or credentials.password == self._password

    def _switch(self, login: int) -> None:
        self._current = login
        self._remembered.add(login)

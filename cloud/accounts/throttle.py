"""Log-in throttling: failed log-ins slow down guessing, per account and per client address.

Two counters, both in the hub process's memory (each hub replica keeps its
own; a restart forgets them, which only ever unlocks):

- **account × address**: after ``per_account`` failures for one e-mail from
  one client address, that address waits before trying that account again:
  ``base_s`` seconds, doubling with every further failure, at most
  ``max_lock_s``. A log-in that succeeds clears it.
- **address**: after ``per_address`` failures from one address (any
  e-mails) within ``max_lock_s``, that address waits until the oldest of
  them is ``max_lock_s`` old (it sprays many accounts, or many guesses).

While a wait runs the hub answers 429 with ``Retry-After`` and does not
check the password, so the waiting costs no argon2 work either.

An attacker cannot lock the owner of an account out: the account lock
holds only for the address that failed, and every lock ends by itself
after at most ``max_lock_s`` (an attacker who keeps guessing from their
own address keeps only themselves waiting). The price is that guesses
spread over many addresses are slowed per address only; against that the
password policy (:func:`cloud.accounts.security.password_problem`) and
argon2id's cost stand. See docs/security.md, "Log-in".

Examples
--------
>>> t = LoginThrottle(per_account=2, per_address=10, base_s=30, max_lock_s=600)
>>> t.failed("ana@x.org", "10.0.0.9", now=0.0); t.retry_after("ana@x.org", "10.0.0.9", now=1.0)
0.0
>>> t.failed("ana@x.org", "10.0.0.9", now=2.0); t.retry_after("ana@x.org", "10.0.0.9", now=3.0)
29.0
>>> t.retry_after("ana@x.org", "10.0.0.7", now=3.0)   # the owner, elsewhere: not locked out
0.0
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class _Account:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Counts failed log-ins and says how long a caller must wait (see the module docstring).

    Parameters
    ----------
    per_account : int
        Failures for one account from one address before it must wait.
    per_address : int
        Failures from one address (any accounts) within ``max_lock_s`` before it must wait.
    base_s : float
        The first wait; each further failure doubles it.
    max_lock_s : float
        The longest wait, and how long failures are remembered.
    """

    def __init__(self, per_account: int = 5, per_address: int = 30, base_s: float = 30.0,
                 max_lock_s: float = 900.0) -> None:
        self.per_account, self.per_address = per_account, per_address
        self.base_s, self.max_lock_s = base_s, max_lock_s
        self._accounts: dict[tuple[str, str], _Account] = {}
        self._addresses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def retry_after(self, email: str, address: str, now: float | None = None) -> float:
        """Seconds ``address`` must still wait before trying ``email`` (0: it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget(now)
            wait = 0.0
            acct = self._accounts.get((email, address))
            if acct is not None:
                wait = max(wait, acct.locked_until - now)
            recent = self._addresses.get(address)
            if recent is not None and len(recent) >= self.per_address:
                wait = max(wait, recent[len(recent) - self.per_address] + self.max_lock_s - now)
            if wait > 0:
                self.refused += 1
            return max(0.0, wait)

    def failed(self, email: str, address: str, now: float | None = None) -> None:
        """Count a failed log-in of ``email`` from ``address``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            acct = self._accounts.setdefault((email, address), _Account())
            acct.failures += 1
            acct.last = now
            if acct.failures >= self.per_account:
                doublings = min(acct.failures - self.per_account, 32)
                acct.locked_until = now + min(self.base_s * 2 ** doublings, self.max_lock_s)
            self._addresses.setdefault(address, deque()).append(now)

    def succeeded(self, email: str, address: str) -> None:
        """A correct log-in: forget the failures of ``email`` from ``address``."""
        with self._lock:
            self._accounts.pop((email, address), None)

    def _forget(self, now: float) -> None:
        """Drop what is older than ``max_lock_s`` (memory stays bounded by recent attackers)."""
        horizon = now - self.max_lock_s
        for key in [k for k, a in self._accounts.items() if a.last < horizon and a.locked_until <= now]:
            del self._accounts[key]
        for address in list(self._addresses):
            recent = self._addresses[address]
            while recent and recent[0] < horizon:
                recent.popleft()
            if not recent:
                del self._addresses[address]

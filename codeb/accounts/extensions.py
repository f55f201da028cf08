"""Telephone extensions: each account gets one number of the tenant's range.

The `ext` index maps a number to the login holding it; the account document
is the truth, so an entry is trusted only when the account it names agrees.
Numbers are claimed by the index's exclusive create, so concurrent creations
never share one. A number is claimed before the account document names it (a new
account is written whole, its number in it): a claim its account does not yet
hold stands for `GRACE` seconds, after which it was left behind by a killed
process and the number is free again.
"""

from ..errors import BadInput, Conflict
from ..store import layout

MAX_NUMBER = 99_999_999
MAX_SPAN = 1_000_000
GRACE = 60.0  # seconds a claim stands before its account holds the number


def range_part(low, high) -> dict:
    """The tenant's extension range, validated, as its part of the settings."""
    try:
        low, high = int(low), int(high)
    except (TypeError, ValueError):
        raise BadInput("error.settings_numbers") from None
    if not 1 <= low <= high <= MAX_NUMBER or high - low > MAX_SPAN:
        raise BadInput("error.extension_range", low=low, high=high)
    return {"extension_range": [low, high]}


class Extensions:
    def __init__(self, accounts):
        self.accounts = accounts
        self.store = accounts.store
        self.index = accounts.store.index(layout.BY_EXTENSION)

    def range(self) -> tuple[int, int] | None:
        """The tenant's range as it is on disk now (an admin may just have widened it)."""
        bounds = (self.store.read(layout.TENANT) or {}).get("extension_range")
        if not bounds or len(bounds) != 2 or not all(isinstance(b, int) for b in bounds):
            return None
        return bounds[0], bounds[1]

    def allocate(self, login: str) -> int | None:
        """The lowest free extension of the range, claimed for `login`; None when the range
        is full (the account still works; telephony waits for an admin to widen the range)."""
        bounds = self.range()
        if bounds is None:
            return None
        for number in range(bounds[0], bounds[1] + 1):
            if self._free(number, login) and self.index.claim(str(number), login):
                return number
        return None

    def _free(self, number: int, login: str) -> bool:
        """Whether `number` may be claimed for `login`: no entry, one for `login`, or one left
        behind (removed here): its account does not hold the number and the claim is older
        than GRACE. A younger claim is an account being created or moved to the number."""
        entry = self.index.claimed(str(number))
        if entry is None or entry[0] == login:
            return True
        holder, at = entry
        account = self.accounts.get(holder)
        if account is not None and account.ext == number:
            return False
        if at is not None and self.store.clock() - at < GRACE:
            return False
        self.index.remove(str(number), holder)
        return True

    def owner(self, number):
        """The account holding this extension, or None."""
        login = self.index.get(str(number))
        account = self.accounts.get(login) if login else None
        return account if account and account.ext == int(number) else None

    def checked(self, number) -> int:
        """The number as an extension of the tenant's range; BadInput if it is not one."""
        bounds = self.range()
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise BadInput("error.extension_invalid") from None
        if bounds is None or not bounds[0] <= number <= bounds[1]:
            raise BadInput("error.extension_range", low=bounds[0] if bounds else 0,
                           high=bounds[1] if bounds else 0)
        return number

    def claim(self, login: str, number: int) -> None:
        """Claim a free number for `login` (Conflict if someone holds it); the account
        document is written by the caller, who releases the claim if that fails."""
        if not self._free(number, login) or not self.index.claim(str(number), login):
            raise Conflict("error.extension_taken", ext=number)

    def assign(self, login: str, number) -> int:
        """Move the account to another free number of the range; return it."""
        number = self.checked(number)
        if self.accounts.require(login).ext == number:
            return number
        self.claim(login, number)
        try:
            with self.accounts.update(login) as doc:
                old, doc["ext"] = doc.get("ext"), number
        except BaseException:
            self.release(login, number)
            raise
        self.release(login, old)
        return number

    def release(self, login: str, number: int | None) -> None:
        if number is not None:
            self.index.remove(str(number), login)

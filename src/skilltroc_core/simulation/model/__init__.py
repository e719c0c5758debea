"""The naive reference model the simulator compares the library with.

It keeps, by plain arithmetic on dicts and small records, what the rules say each
accepted command and each deadline does: every member's available and held stars, the
platform totals, seats taken per session, each request's state and deadline, gifts,
tutorial view counts, campaign impressions, and the notices each transition implies.
It also says which booking commands the rules accept in the state it keeps (the
``may_*`` methods) and how each way a request ends refunds and is told (:data:`ENDS`).
It shares no code with the service: only :meth:`Policy.add_days` (calendar arithmetic)
and the policy numbers. The simulator runs it beside the library; so does the stateful
booking test (``tests/test_booking_stateful.py``): one reference model of booking.

- :mod:`.records`: the records it keeps, and :data:`ENDS`;
- :mod:`.core`: :class:`Model`, the state, and what its parts share (notices, stars,
  deadlines, request endings);
- its parts, one area of the rules each (:class:`.part.Part`): :class:`Accounts`
  (``model.accounts``: members, stars bought, sponsors, purge), :class:`Gifting`
  (``model.gifting``), :class:`Schedule` (``model.schedule``: workshops and sessions),
  :class:`Bookings` (``model.bookings``: requests and registrations),
  :class:`Publishing` (``model.publishing``: tutorials and their views) and
  :class:`Advertising` (``model.advertising``: campaigns and page views).
"""

from .accounts import Accounts
from .advertising import Advertising
from .bookings import Bookings
from .core import Model
from .gifting import Gifting
from .part import Part
from .publishing import Publishing
from .records import (
    ACTIVE,
    AWAITING,
    DEACTIVATED,
    ENDS,
    LIVE,
    PENDING,
    PURGED,
    Ending,
    MCampaign,
    MGift,
    MMember,
    MReg,
    MSession,
    MTutorial,
    MWorkshop,
    Note,
)
from .schedule import Schedule

__all__ = ["ACTIVE", "AWAITING", "DEACTIVATED", "ENDS", "LIVE", "PENDING", "PURGED", "Accounts",
           "Advertising", "Bookings", "Ending", "Gifting", "MCampaign", "MGift", "MMember",
           "MReg", "MSession", "MTutorial", "MWorkshop", "Model", "Note", "Part", "Publishing",
           "Schedule"]

"""The write side: typed events, aggregates, a repository and a command bus.

::

    class UserId(AggregateId, prefix="user"): ...

    class EmailChanged(Event, type="app.EmailChanged"):
        email: str

    class User(Aggregate[UserId], conflicts=ConflictPolicy(critical={"email"})):
        email: str = ""

        @when(EmailChanged)
        def _email_changed(self, event: EmailChanged) -> None:
            self.email = event.email

    class ChangeEmail(Command[None]):
        user_id: UserId
        email: str
        based_on_version: int | None = None

    bus = CommandBus(Repository(store))

    @bus.handler(ChangeEmail, User)
    def change_email(command: ChangeEmail, user: User) -> None:
        if command.email != user.email:
            user.record(EmailChanged(email=command.email))

    await bus.send(ChangeEmail(user_id=uid, email="a@b.c"), CommandContext(actor="me"))
"""

# A public module: the metadata keys and event ids that make a command idempotent,
# for apps that look up a command's first run themselves.
from headwater.domain import idempotency
from headwater.domain._aggregate import Aggregate, when
from headwater.domain._bus import CommandBus
from headwater.domain._commands import Command, CommandContext, CommandResult
from headwater.domain._conflicts import (
    ESCALATE,
    LAST_WRITE_WINS,
    MERGE,
    REFUSE,
    SYSTEM_SETTING,
    ConflictPolicy,
    FieldConflict,
    MergeReport,
    Strategy,
    merge_states,
)
from headwater.domain._events import (
    Event,
    EventRegistry,
    JsonObject,
    RawEvent,
    default_registry,
    upcaster,
)
from headwater.domain._ids import AggregateId
from headwater.domain._repository import Repository
from headwater.domain._review import (
    AcceptReview,
    ConflictEscalated,
    RejectReview,
    Review,
    ReviewAccepted,
    ReviewId,
    ReviewRejected,
    ReviewStatus,
    open_reviews,
)
from headwater.domain.idempotency import CommandHandled
from headwater.errors import (
    AggregateStateError,
    AggregateVersionNotFound,
    ChangeEscalated,
    CommandIdReused,
    CommandNotRegistered,
    EventTypeConflict,
    MergeConflict,
    MissingUpcaster,
    ReviewAlreadyDecided,
    ReviewNotFound,
    UnknownEventType,
)

__all__ = [
    "ESCALATE",
    "LAST_WRITE_WINS",
    "MERGE",
    "REFUSE",
    "SYSTEM_SETTING",
    "AcceptReview",
    "Aggregate",
    "AggregateId",
    "AggregateStateError",
    "AggregateVersionNotFound",
    "ChangeEscalated",
    "Command",
    "CommandBus",
    "CommandContext",
    "CommandHandled",
    "CommandIdReused",
    "CommandNotRegistered",
    "CommandResult",
    "ConflictEscalated",
    "ConflictPolicy",
    "Event",
    "EventRegistry",
    "EventTypeConflict",
    "FieldConflict",
    "JsonObject",
    "MergeConflict",
    "MergeReport",
    "MissingUpcaster",
    "RawEvent",
    "RejectReview",
    "Repository",
    "Review",
    "ReviewAccepted",
    "ReviewAlreadyDecided",
    "ReviewId",
    "ReviewNotFound",
    "ReviewRejected",
    "ReviewStatus",
    "Strategy",
    "UnknownEventType",
    "default_registry",
    "idempotency",
    "merge_states",
    "open_reviews",
    "upcaster",
    "when",
]

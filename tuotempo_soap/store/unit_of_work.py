"""The SQL unit of work: one connection, one transaction, the repositories on it.

``Store.begin()`` hands one out; it is what ``services.unit_of_work.UnitOfWork``
describes. The transaction starts when the block is entered and ends with it:
committed if ``commit()`` was called, rolled back otherwise. The database
errors that mean "not there or not usable" become ``StoreUnavailableError``,
as with ``Store.unit_of_work``.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Connection, RootTransaction

from .audit import AuditRepository
from .changes import ReservationChangeRepository
from .clinic import EntityRepository, IntegrationRepository, PortalRepository
from .operators import OperatorRepository
from .outbox import MessageRepository
from .reminders import (
    AnswerLinkRepository,
    CallbackRepository,
    EventRepository,
    ReminderRepository,
    ReminderSettingsRepository,
    ReplyQuestionRepository,
)
from .removal import InstanceRemovalRepository
from .repositories import ApiUserRepository, InstanceRepository, ReservationRepository
from .search import SearchRepository

if TYPE_CHECKING:
    from .engine import Store


class SqlUnitOfWork:
    """One transaction on ``store``'s engine (``write``: takes SQLite's write lock
    at BEGIN) per ``with`` block; the repositories work until the block ends."""

    instances: InstanceRepository
    users: ApiUserRepository
    portals: PortalRepository
    integrations: IntegrationRepository
    removal: InstanceRemovalRepository
    reservations: ReservationRepository
    changes: ReservationChangeRepository
    messages: MessageRepository
    reminder_settings: ReminderSettingsRepository
    reminders: ReminderRepository
    events: EventRepository
    callbacks: CallbackRepository
    answer_links: AnswerLinkRepository
    reply_questions: ReplyQuestionRepository
    audit: AuditRepository
    operators: OperatorRepository
    search: SearchRepository
    entities: EntityRepository

    def __init__(self, store: Store, *, write: bool = False) -> None:
        self._store = store
        self._write = write
        self._scope: ExitStack | None = None
        self._transaction: RootTransaction | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._scope is not None:
            raise RuntimeError("units of work do not nest: this one is in progress")
        with ExitStack() as scope:
            scope.enter_context(self._store.translated_errors())
            connection = scope.enter_context(self._store.connect(write=self._write))
            self._transaction = connection.begin()
            self._bind(connection)
            self._scope = scope.pop_all()
        return self

    def _bind(self, connection: Connection) -> None:
        self.instances = InstanceRepository(connection)
        self.users = ApiUserRepository(connection)
        self.portals = PortalRepository(connection)
        self.integrations = IntegrationRepository(connection)
        self.removal = InstanceRemovalRepository(connection)
        self.reservations = ReservationRepository(connection)
        self.changes = ReservationChangeRepository(connection)
        self.messages = MessageRepository(connection)
        self.reminder_settings = ReminderSettingsRepository(connection)
        self.reminders = ReminderRepository(connection)
        self.events = EventRepository(connection)
        self.callbacks = CallbackRepository(connection)
        self.answer_links = AnswerLinkRepository(connection)
        self.reply_questions = ReplyQuestionRepository(connection)
        self.audit = AuditRepository(connection)
        self.operators = OperatorRepository(connection)
        self.search = SearchRepository(connection)
        self.entities = EntityRepository(connection)

    def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("commit() outside the unit of work's block")
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        scope, self._scope = self._scope, None
        if scope is None:
            return
        # Closing the scope closes the connection and translates database
        # errors, the block's own included (an error that is not one of those
        # goes on as it was).
        try:
            self.rollback()  # whatever was not committed
        except BaseException:
            scope.__exit__(*sys.exc_info())
            raise
        scope.__exit__(exc_type, exc, traceback)

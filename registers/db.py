"""The database: SQLAlchemy 2, SQLite (WAL) by default, PostgreSQL through ``DATABASE_URL``.

    db = Database.connect("sqlite:///var/kyso.sqlite")      # or postgresql+psycopg://...
    db.upgrade()                                            # Alembic migrations to head
    with db.session() as s: ...

Every table of the registers package derives from :class:`Base`; the schema is
created and changed only by the Alembic migrations in ``registers/migrations``.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from kyso.errors import ErrorKind, KysoError

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of the migrations ("kyso" in ASCII)
_MIGRATION_LOCK_KEY = 0x6B79736F


class Base(DeclarativeBase):
    pass


class DatabaseUnreachable(KysoError):
    """The database of ``KYSO_DATABASE_URL`` cannot be reached: said in one line, password hidden."""

    code = "database_unavailable"
    kind = ErrorKind.UNAVAILABLE
    message_en = "The database is unavailable (KYSO_DATABASE_URL)."
    message_vi = "Không kết nối được cơ sở dữ liệu (KYSO_DATABASE_URL)."

    @classmethod
    def for_url(cls, url: str, exc: BaseException) -> "DatabaseUnreachable":
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL is shown as its scheme only
            shown = url.split(":", 1)[0] + ":..."
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason_text = reason[0] if reason else type(exc).__name__
        return cls(f"cannot reach the database KYSO_DATABASE_URL={shown}: {reason_text}"[:500],
                   message_vi=f"Không kết nối được cơ sở dữ liệu KYSO_DATABASE_URL={shown}: {reason_text}"[:500],
                   detail={"setting": "KYSO_DATABASE_URL", "url": shown})


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, **engine_kwargs) -> "Database":
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # SQLite: autocommit at the driver level; SQLAlchemy issues BEGIN (IMMEDIATE where we ask)
            engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None},
                                   **engine_kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)

            @event.listens_for(engine, "begin")
            def _begin(conn):
                # a writer lock from the start (no "database is locked" upgrades mid-way), except
                # for the read-only sessions, which take none
                if conn.get_execution_options().get("kyso_readonly"):
                    conn.exec_driver_sql("BEGIN")
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
            engine = create_engine(url, **engine_kwargs)
        return cls(url, engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        # SQLite: the check's connection, the first to a new file, turns it to WAL, which several
        # processes at once could not all do ("database is locked"): it runs under the lock too
        with self._migration_lock():
            self.check()   # an unreachable database is one line naming the setting, not a traceback
            with self.engine.begin() as connection:
                if self.engine.dialect.name == "postgresql":
                    # one migrating process at a time; the lock ends with this transaction, after
                    # which the next process finds the schema at head and does nothing
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    def _migration_lock(self):
        """SQLite: an exclusive lock on a file beside the database (PostgreSQL locks in the database)."""
        return self._file_lock("migrate")

    @contextlib.contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        """SQLite: an exclusive lock on ``<database>.<name>.lock``; nothing for PostgreSQL or memory."""
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        import fcntl

        with open(f"{database}.{name}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def check(self) -> None:
        """Connect and run ``SELECT 1``; raise :class:`DatabaseUnreachable` (one line) if it fails."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseUnreachable.for_url(self.url, exc) from None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any exception."""
        with self._sessions() as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the writer lock."""
        with self.engine.connect().execution_options(kyso_readonly=True) as connection:
            with Session(bind=connection, expire_on_commit=False) as session:
                with session.begin():
                    yield session

    def lock(self, session: Session, name: str) -> None:
        """Serialise writers of one kind (numbering, audit chain) across processes.

        SQLite: the BEGIN IMMEDIATE of every transaction already holds the writer lock.
        PostgreSQL: a transaction-scoped advisory lock.
        """
        if not self.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a lock named ``name`` across processes and nodes for a block of several transactions
        (setting up what every starting process would otherwise create at once). PostgreSQL: a
        session advisory lock on a connection of its own; SQLite: an exclusive lock on a file beside
        the database (one machine)."""
        if self.is_sqlite:
            with self._file_lock(name):
                yield
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
                connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()


_INSERTS: dict = {}


def insert_new(session, table, keys: tuple[str, ...]):
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` of every column of ``table``, built once per
    table and dialect (a statement built per call costs as much as running it).

    The SQL is the same in SQLite and PostgreSQL; it is a textual statement whose parameters carry
    the columns' types (the same conversions as an ``insert()``): SQLAlchemy's dialect ``insert``
    has no cache key, so it was compiled anew at every execution (two per stored document)."""
    dialect = session.get_bind().dialect
    statement = _INSERTS.get((table.name, dialect.name, keys))
    if statement is None:
        if dialect.name not in ("postgresql", "sqlite"):    # pragma: no cover - only the two are used
            raise ValueError(f"unsupported database {dialect.name}")
        quote = dialect.identifier_preparer.quote
        columns = list(table.columns)
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
               f"VALUES ({', '.join(':' + c.name for c in columns)}) "
               f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO NOTHING")
        statement = text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in columns))
        _INSERTS[(table.name, dialect.name, keys)] = statement
    return statement

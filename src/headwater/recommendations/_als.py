"""The optional ALS model: matrix factorisation retrained from the log by a job.

Needs the ``recommendations-als`` extra (the ``implicit`` library). A periodic job
(:meth:`AlsTrainer.train`) reads a tenant's interactions from the event log, fits
``implicit``'s ALS and replaces that tenant's factor tables in one transaction, so
readers see the old model or the new one, never a mix. :class:`AlsModel` serves
from those tables, keeping each tenant's item matrix in memory until a newer run
replaces it.

Confidence is binary (who touched what), as in the MovieLens evaluation: weights
already shape the item-item model, and ALS on raw star counts measured worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from headwater.eventstore._protocol import EventStore
from headwater.eventstore._sql import Statement
from headwater.projections import INTEGER, JSON, TEXT, Table
from headwater.recommendations._events import INTERACTION_RECORDED

ALS_RUNS = Table(
    "rec_als_runs",
    {"tenant_id": TEXT, "run": INTEGER, "position": INTEGER, "users": INTEGER, "items": INTEGER},
    primary_key="tenant_id",
)
ALS_USERS = Table(
    "rec_als_users",
    {"tenant_id": TEXT, "user_id": TEXT, "factors": JSON},
    primary_key=("tenant_id", "user_id"),
)
ALS_ITEMS = Table(
    "rec_als_items",
    {"tenant_id": TEXT, "item_id": TEXT, "factors": JSON},
    primary_key=("tenant_id", "item_id"),
)
ALS_TABLES: Final = (ALS_RUNS, ALS_USERS, ALS_ITEMS)


def als_available() -> bool:
    try:
        import implicit  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class AlsOptions:
    factors: int = 32
    regularization: float = 0.01
    iterations: int = 15
    seed: int = 42


def fit(
    pairs: list[tuple[str, str]], options: AlsOptions
) -> tuple[list[str], npt.NDArray[np.float32], list[str], npt.NDArray[np.float32]]:
    """Fit ALS on distinct (user, item) pairs: (users, user factors, items, item factors)."""
    from implicit.als import AlternatingLeastSquares  # type: ignore[import-untyped]
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]  # implicit needs it
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    users = sorted({u for u, _ in pairs})
    items = sorted({i for _, i in pairs})
    user_index = {u: n for n, u in enumerate(users)}
    item_index = {i: n for n, i in enumerate(items)}
    rows = np.fromiter((user_index[u] for u, _ in pairs), np.int32, len(pairs))
    cols = np.fromiter((item_index[i] for _, i in pairs), np.int32, len(pairs))
    matrix = csr_matrix(
        (np.ones(len(pairs), np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    # implicit warns (and slows down) when BLAS runs its own thread pool under ALS;
    # it checks when the model is built, so both happen under the limit.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=options.factors,
            regularization=options.regularization,
            iterations=options.iterations,
            random_state=options.seed,
            # One thread: a fit that is reproducible run to run (and a fair share of a node).
            num_threads=1,
        )
        model.fit(matrix, show_progress=False)
    user_factors, item_factors = model.user_factors, model.item_factors
    if hasattr(user_factors, "to_numpy"):  # a GPU build returns device arrays
        user_factors, item_factors = user_factors.to_numpy(), item_factors.to_numpy()
    return users, np.asarray(user_factors), items, np.asarray(item_factors)


async def create_tables(store: EventStore) -> None:
    """Create the factor tables if missing (they are a job's output, not a projection's)."""
    async with store.transaction() as tx:
        for table in ALS_TABLES:
            exists = await tx.fetchone(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
                if store.dialect == "sqlite"
                else "SELECT 1 FROM pg_catalog.pg_tables "
                "WHERE schemaname = current_schema() AND tablename = ?",
                (table.name,),
            )
            if exists is None:
                for sql in table.create_sql(store.dialect):
                    await tx.execute(sql)


class AlsTrainer:
    def __init__(self, store: EventStore, options: AlsOptions | None = None) -> None:
        self.store = store
        self.options = options or AlsOptions()

    async def train(self, tenant_id: str | None) -> int:
        """Retrain one tenant's model from the whole log; returns the users modelled."""
        tenant = tenant_id or ""
        pairs: set[tuple[str, str]] = set()
        head = 0
        async for event in self.store.read_all(
            types=[INTERACTION_RECORDED], tenant_id=tenant_id or None
        ):
            if (event.tenant_id or "") == tenant:
                pairs.add((event.data["user_id"], event.data["item_id"]))
            head = event.position
        if not pairs:
            return 0
        users, user_factors, items, item_factors = fit(sorted(pairs), self.options)
        previous = await self.store.fetchone(
            f"SELECT run FROM {ALS_RUNS.ref} WHERE tenant_id = ?", (tenant,)
        )
        run = 1 if previous is None else int(previous[0]) + 1
        # One transaction: readers switch from the old factors to the new all at once.
        statements = [
            Statement(f"DELETE FROM {ALS_USERS.ref} WHERE tenant_id = ?", (tenant,)),
            Statement(f"DELETE FROM {ALS_ITEMS.ref} WHERE tenant_id = ?", (tenant,)),
            Statement.executemany(
                ALS_USERS.insert({"tenant_id": "", "user_id": "", "factors": []}).sql,
                [
                    (tenant, u, ALS_USERS.encode("factors", f.tolist()))
                    for u, f in zip(users, user_factors, strict=True)
                ],
            ),
            Statement.executemany(
                ALS_ITEMS.insert({"tenant_id": "", "item_id": "", "factors": []}).sql,
                [
                    (tenant, i, ALS_ITEMS.encode("factors", f.tolist()))
                    for i, f in zip(items, item_factors, strict=True)
                ],
            ),
            ALS_RUNS.upsert(
                {
                    "tenant_id": tenant,
                    "run": run,
                    "position": head,
                    "users": len(users),
                    "items": len(items),
                }
            ),
        ]
        await self.store.commit(statements)
        return len(users)


@dataclass(frozen=True, slots=True)
class _Loaded:
    run: int
    items: list[str]
    matrix: npt.NDArray[np.float32]
    index: dict[str, int]


class AlsModel:
    """Serves a tenant's latest ALS run from the factor tables."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._loaded: dict[str, _Loaded] = {}

    async def _items(self, tenant: str) -> _Loaded | None:
        row = await self.store.fetchone(
            f"SELECT run FROM {ALS_RUNS.ref} WHERE tenant_id = ?", (tenant,)
        )
        if row is None:
            return None
        loaded = self._loaded.get(tenant)
        if loaded is None or loaded.run != int(row[0]):
            rows = await self.store.fetchall(
                f"SELECT item_id, factors FROM {ALS_ITEMS.ref} WHERE tenant_id = ? "
                "ORDER BY item_id",
                (tenant,),
            )
            items = [str(r[0]) for r in rows]
            matrix = np.array([ALS_ITEMS.decode("factors", r[1]) for r in rows], dtype=np.float32)
            loaded = _Loaded(int(row[0]), items, matrix, {i: n for n, i in enumerate(items)})
            self._loaded[tenant] = loaded
        return loaded

    async def scores(
        self, tenant: str, user: str
    ) -> tuple[list[str], npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """(items, item factors, scores) for the user, or None when the model does not
        know them yet (a user newer than the last run)."""
        loaded = await self._items(tenant)
        if loaded is None:
            return None
        row = await self.store.fetchone(
            f"SELECT factors FROM {ALS_USERS.ref} WHERE tenant_id = ? AND user_id = ?",
            (tenant, user),
        )
        if row is None:
            return None
        vector = np.asarray(ALS_USERS.decode("factors", row[0]), dtype=np.float32)
        return loaded.items, loaded.matrix, loaded.matrix @ vector

    def index(self, tenant: str) -> dict[str, int]:
        loaded = self._loaded.get(tenant)
        return {} if loaded is None else loaded.index

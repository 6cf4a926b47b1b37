"""The analyst SQL clients: reused while clean, closed after any error, never lent to two queries at once."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from clickhouse_connect.driver.client import Client

from query_api.sqlclient import SqlClients


class FakeClient:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    def close(self) -> None:
        self.closed = True


def pool(idle: int = 4) -> tuple[SqlClients, list[FakeClient]]:
    made: list[FakeClient] = []

    def factory() -> Client:
        made.append(FakeClient(len(made)))
        return cast(Client, made[-1])

    return SqlClients(factory, idle=idle), made


def test_a_clean_client_serves_the_next_query() -> None:
    clients, made = pool()
    with clients.lend() as first:
        pass
    with clients.lend() as second:
        pass
    assert first is second and len(made) == 1 and clients.opened == 1 and not made[0].closed


def test_a_client_that_saw_an_error_is_closed_and_never_lent_again() -> None:
    clients, made = pool()
    with pytest.raises(ValueError), clients.lend() as first:
        raise ValueError("the query failed after its first block")
    assert cast(Any, first).closed
    with clients.lend() as second:
        pass
    assert second is not first and len(made) == 2


def test_concurrent_queries_get_clients_of_their_own_and_only_so_many_stay_idle() -> None:
    clients, made = pool(idle=2)
    lent: list[Any] = []
    inside, leave = threading.Barrier(4), threading.Event()

    def query() -> None:
        with clients.lend() as client:
            lent.append(client)
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=query) for _ in range(3)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert len({id(c) for c in lent}) == 3
    leave.set()
    for thread in threads:
        thread.join()
    assert sum(c.closed for c in made) == 1  # three came back, two are kept


def test_closing_closes_the_idle_clients_and_any_returned_later() -> None:
    clients, made = pool()
    with clients.lend():
        pass
    with clients.lend() as busy:
        clients.close()
        assert not cast(Any, busy).closed
    assert all(c.closed for c in made)

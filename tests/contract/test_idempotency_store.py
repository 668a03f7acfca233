"""What every IdempotencyStore does: records and key locks that live and die with the
transaction of their unit of work."""

from __future__ import annotations

from application.ports import IdempotencyRecord, StoredResponse
from tests.contract.helpers import UowFactory, saved_record

RESPONSE = StoredResponse(status=201, headers=(("etag", '"1"'), ("location", "/x")), body=b"{}")


def record(key: str, fingerprint: str = "f" * 64) -> IdempotencyRecord:
    return IdempotencyRecord(key=key, fingerprint=fingerprint, response=RESPONSE)


async def test_a_committed_record_is_found_in_its_scope_only(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.idempotency.find("alice", "k-1") is None
        await uow.idempotency.save("alice", record("k-1"))
        await uow.commit()
    assert await saved_record(uow_factory, "alice", "k-1") == record("k-1")
    assert await saved_record(uow_factory, "bob", "k-1") is None
    assert await saved_record(uow_factory, "alice", "k-2") is None


async def test_saving_again_replaces_the_record(uow_factory: UowFactory) -> None:
    for fingerprint in ("a" * 64, "b" * 64):
        async with uow_factory() as uow:
            await uow.idempotency.save("alice", record("k-1", fingerprint))
            await uow.commit()
    assert await saved_record(uow_factory, "alice", "k-1") == record("k-1", "b" * 64)


async def test_a_record_not_committed_is_not_kept(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.idempotency.save("alice", record("k-1"))
    assert await saved_record(uow_factory, "alice", "k-1") is None


async def test_a_rolled_back_record_is_not_kept(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.idempotency.save("alice", record("k-1"))
        await uow.rollback()
        await uow.idempotency.save("alice", record("k-2"))
        await uow.commit()
    assert await saved_record(uow_factory, "alice", "k-1") is None
    assert await saved_record(uow_factory, "alice", "k-2") == record("k-2")


async def test_a_key_is_held_by_one_transaction_at_a_time(uow_factory: UowFactory) -> None:
    async with uow_factory() as holder:
        assert await holder.idempotency.acquire("alice", "k-1")
        assert await holder.idempotency.acquire("alice", "k-1")  # its own: held already
        async with uow_factory() as other:
            assert not await other.idempotency.acquire("alice", "k-1")
            assert await other.idempotency.acquire("bob", "k-1")
            assert await other.idempotency.acquire("alice", "k-2")
    async with uow_factory() as later:
        assert await later.idempotency.acquire("alice", "k-1")


async def test_a_key_is_released_when_its_transaction_ends(uow_factory: UowFactory) -> None:
    async with uow_factory() as holder, uow_factory() as other:
        assert await holder.idempotency.acquire("alice", "k-1")
        await holder.commit()
        assert await other.idempotency.acquire("alice", "k-2")
        await other.rollback()
        async with uow_factory() as third:
            assert await third.idempotency.acquire("alice", "k-1")
            assert await third.idempotency.acquire("alice", "k-2")

"""Remembered answers: valid at one data version, bounded, keyed by asker and normalized question."""

from __future__ import annotations

from query_api.answers import Answers, asker, data_version, no_cache, positions_of, question


def key(text: str, who: str = "") -> tuple[str, bytes]:
    return who, question("runs/search", {"filter": text})


def test_an_answer_is_served_only_at_the_version_it_was_read_at() -> None:
    memory = Answers()
    memory.put(key("a"), (0, ((0, 5),)), b"five")
    assert memory.get(key("a"), (0, ((0, 5),))) == b"five"
    assert memory.get(key("a"), (0, ((0, 6),))) is None  # a new position: read again ...
    assert memory.get(key("a"), (0, ((0, 5),))) is None  # ... and the old answer is forgotten
    assert len(memory) == 0 and memory.size_bytes == 0


def test_no_version_no_memory() -> None:
    memory = Answers()
    memory.put(key("a"), None, b"x")
    assert len(memory) == 0
    memory.put(key("a"), 1, b"x")
    assert memory.get(key("a"), None) is None


def test_bounded_in_entries_and_bytes_least_recently_used_first() -> None:
    memory = Answers(max_entries=2, max_bytes=1000)
    memory.put(key("a"), 1, b"A")
    memory.put(key("b"), 1, b"B")
    assert memory.get(key("a"), 1) == b"A"  # a is now the most recently used
    memory.put(key("c"), 1, b"C")
    assert memory.get(key("b"), 1) is None and memory.get(key("a"), 1) == b"A" and memory.get(key("c"), 1) == b"C"
    small = Answers(max_entries=100, max_bytes=200)
    small.put(key("big"), 1, b"x" * 500)  # larger than the whole memory: not kept
    assert len(small) == 0
    for i in range(10):
        small.put(key(str(i)), 1, b"y" * 60)
    assert small.size_bytes <= 200 and small.get(key("9"), 1) == b"y" * 60 and small.get(key("0"), 1) is None


def test_keys_separate_askers_and_ignore_field_order() -> None:
    assert asker("Bearer one") != asker("Bearer two") and asker(None) == asker("") == ""
    assert question("r", {"a": 1, "b": [2, 1]}) == question("r", {"b": [2, 1], "a": 1})
    assert question("r", {"a": 1}) != question("s", {"a": 1})
    memory = Answers()
    memory.put(key("a", asker("Bearer one")), 1, b"for one")
    assert memory.get(key("a", asker("Bearer two")), 1) is None


def test_answer_reads_the_version_before_the_answer() -> None:
    memory, version, reads = Answers(), [1], []

    def read(at: object) -> bytes:
        reads.append(at)
        version[0] += 1  # a batch projected while the answer was read: it may hold it, or not
        return b"answer"

    assert memory.answer(key("a"), lambda: version[0], read) == b"answer"
    assert memory.answer(key("a"), lambda: version[0], read) == b"answer"
    assert len(reads) == 2  # remembered at version 1, asked at 2: read again
    version[0] = 3
    memory.put(key("a"), 3, b"at three")
    assert memory.answer(key("a"), lambda: 3, read) == b"at three" and len(reads) == 2
    assert memory.answer(key("a"), lambda: 3, read, fresh=True) == b"answer" and len(reads) == 3
    assert reads == [1, 2, 3]  # each read is given the version read before it (to pin its statement to)


def test_positions_of_a_version() -> None:
    assert positions_of(data_version(lambda: {1: 5, 0: 7}, lambda: 2)) == {0: 7, 1: 5}
    assert positions_of(None) is None


def test_no_cache_directives() -> None:
    assert no_cache("no-cache") and no_cache("max-age=0, No-Store") and not no_cache(None)
    assert not no_cache("max-age=60")


def test_data_version() -> None:
    assert data_version(lambda: {1: 5, 0: 7}, lambda: 2) == (2, ((0, 7), (1, 5)))
    assert data_version(lambda: {0: 7}, lambda: None) is None  # maintenance running
    assert data_version(lambda: {}, lambda: 0) is None  # no position known yet


def test_a_fresh_question_that_needs_no_version_reads_none_and_is_not_remembered() -> None:
    from query_api.deps import Remembered, answer

    memory = Answers()
    versions: list[int] = []

    def version() -> int:
        versions.append(1)
        return 1

    def read(at: object) -> bytes:
        return f"read at {at}".encode()

    def answered(remembered: Remembered, **kwargs: bool) -> tuple[bytes, str]:
        response = answer(remembered, "runs/metric", {"run": "r"}, read, **kwargs)
        return bytes(response.body), response.headers["X-Runstream-Answer"]

    fresh = Remembered(memory, version, asker(None), fresh=True)
    assert answered(fresh, remember_fresh=False) == (b"read at None", "read")
    assert versions == [] and len(memory) == 0  # no data version read, nothing remembered
    assert answered(fresh) == (b"read at 1", "read")  # the default still remembers
    assert versions == [1] and len(memory) == 1
    asked_again = Remembered(memory, version, asker(None), fresh=False)
    assert answered(asked_again, remember_fresh=False) == (b"read at 1", "remembered")
    assert memory.hits == 1  # without no-cache the answer comes from memory as before


def test_answer_from_says_whether_the_answer_came_from_memory() -> None:
    memory = Answers()
    assert memory.answer_from(key("a"), lambda: 1, lambda _: b"read") == (b"read", False)
    assert memory.answer_from(key("a"), lambda: 1, lambda _: b"again") == (b"read", True)
    assert memory.answer_from(key("a"), lambda: 1, lambda _: b"now", fresh=True) == (b"now", False)
    assert memory.answer_from(key("a"), lambda: 2, lambda _: b"newer") == (b"newer", False)
    assert memory.answer_from(key("a"), lambda: None, lambda _: b"unversioned") == (b"unversioned", False)


def test_peek_counts_only_a_hit_and_forgets_nothing() -> None:
    memory = Answers()
    memory.put(key("a"), 1, b"at one")
    assert memory.peek(key("a"), 2) is None and memory.peek(key("b"), 1) is None and memory.peek(key("a"), None) is None
    assert (memory.hits, memory.misses, len(memory)) == (0, 0, 1)  # a later `answer` counts the miss
    assert memory.peek(key("a"), 1) == b"at one" and memory.hits == 1


def test_a_remembered_answer_is_looked_up_without_a_statement_only_where_the_version_is_in_memory() -> None:
    from query_api.deps import Remembered

    memory = Answers()
    memory.answer(key("a"), lambda: 1, lambda _: b"body")
    statements: list[int] = []

    def read_version() -> int:  # where the version is a statement of its own (an API apart from its projector)
        statements.append(1)
        return 1

    apart = Remembered(memory, read_version, asker(None), fresh=False, in_memory=None)
    assert apart.from_memory("runs/search", {}) is None and statements == []
    hosted = Remembered(memory, read_version, asker(None), fresh=False, in_memory=lambda: 1)
    assert hosted.from_memory("runs/search", {"q": 1}) is None  # not remembered: the pool reads it
    memory.answer((asker(None), question("runs/search", {"q": 1})), lambda: 1, lambda _: b"searched")
    assert hosted.from_memory("runs/search", {"q": 1}) == b"searched" and statements == []
    fresh = Remembered(memory, read_version, asker(None), fresh=True, in_memory=lambda: 1)
    assert fresh.from_memory("runs/search", {"q": 1}) is None

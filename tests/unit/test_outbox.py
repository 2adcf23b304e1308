from ocrlive.ws.outbox import Frame, Outbox


def progress(seq: int, task: str = "a") -> Frame:
    return Frame(text=f"p{seq}", seq=seq, key=("tasks", task))


def drain(box: Outbox) -> list[int]:
    out = []
    while (frame := box.pop()) is not None:
        out.append(frame.seq)
    return out


def test_progress_of_one_task_collapses_to_the_newest_and_seqs_stay_increasing() -> None:
    box = Outbox(limit=10)
    box.push(progress(1))
    box.push(Frame("created b", seq=2))
    box.push(progress(3))
    box.push(progress(4, task="b"))
    box.push(progress(5))
    assert len(box) == 3
    assert drain(box) == [2, 4, 5]


def test_terminal_frames_are_never_collapsed() -> None:
    box = Outbox(limit=10)
    for seq in (1, 2, 3):
        box.push(Frame(f"completed {seq}", seq=seq))
    assert drain(box) == [1, 2, 3]


def test_overflow_counts_live_frames_only() -> None:
    box = Outbox(limit=2)
    for seq in range(1, 50):
        box.push(progress(seq))
    assert not box.overflowing
    box.push(Frame("x", seq=50))
    box.push(Frame("y", seq=51))
    assert box.overflowing


def test_a_sent_progress_frame_does_not_hide_a_later_one() -> None:
    box = Outbox(limit=10)
    box.push(progress(1))
    assert drain(box) == [1]
    box.push(progress(2))
    assert drain(box) == [2]


def test_a_client_that_never_reads_holds_one_progress_frame_per_task() -> None:
    box = Outbox(limit=10)
    for seq in range(1, 5001):
        box.push(progress(seq, task=f"t{seq % 3}"))
    assert len(box) == 3
    assert box.entries <= 3 + 64 + 1  # superseded frames are dropped, not kept dead
    assert drain(box) == [4998, 4999, 5000]


def test_wire_is_a_complete_unmasked_text_frame() -> None:
    short, medium = Frame("hi"), Frame("x" * 300)
    assert short.wire == b"\x81\x02hi"
    assert medium.wire[:4] == b"\x81\x7e\x01\x2c" and medium.wire[4:] == b"x" * 300

"""The client commands, listed in one explicit table (COMMANDS) that the view imports:
subscribe, unsubscribe, ack, ping, each with its schema."""

from __future__ import annotations

from typing import Any

from ocrlive.audit.actions import Action
from ocrlive.audit.log import entry
from ocrlive.events import Task
from ocrlive.identity.permissions import Permission
from ocrlive.store.audit import Entry
from ocrlive.ws.connection import Connection
from ocrlive.ws.hub import event_frame
from ocrlive.ws.outbox import Frame
from ocrlive.ws.protocol import TOPIC_RE, Command, Field, WsError, WsErrorCode, result_frame
from ocrlive.ws.services import WsServices

# Far above any seq: a hold released with it drops everything it held.
_DROP_ALL = 2**62


async def subscribe(
    services: WsServices, conn: Connection, msg: dict[str, Any]
) -> dict[str, Any] | None:
    topic: str = msg["topic"]
    if not TOPIC_RE.match(topic):
        raise WsError(WsErrorCode.INVALID_TOPIC, "topic must be 'tasks' or 'task:<id>'")
    task_id = topic.removeprefix("task:") if topic != "tasks" else None
    # Live events are held from before the log is read, so none falls between the
    # replay and the live stream; release() drops those the replay already sent.
    conn.hold(topic)
    services.hub.subscribe(topic, conn)
    try:
        rec = await services.recovery.recover(task_id, msg.get("since"), msg.get("epoch"))
        if rec is None:
            raise WsError(WsErrorCode.NOT_FOUND, f"No task with id {task_id!r}")
    except BaseException:
        if topic in conn.subscriptions:  # it was subscribed before: its stream goes on
            conn.release(topic, 0)
        else:
            services.hub.unsubscribe(topic, conn)
            conn.release(topic, _DROP_ALL)
        raise
    try:
        await services.audit.record(_subscribed(conn, topic, rec.task))
    except BaseException:  # no record, no stream: undo as for a failed recovery
        services.hub.unsubscribe(topic, conn)
        conn.release(topic, _DROP_ALL)
        raise
    if topic not in conn.subscriptions:
        conn.subscriptions += (topic,)
    payload = {"topic": topic, "recovered": rec.recovered, "seq": rec.seq}
    payload |= {"epoch": services.recovery.epoch}
    conn.send(Frame(result_frame(msg["id"], payload, snapshot=rec.snapshot)))
    # Replayed events are exactly what was missed: none of them may be collapsed.
    await conn.send_replay(
        event_frame(topic, e, e.task.dumps(), collapsible=False) for e in rec.events
    )
    conn.release(topic, rec.release_after)
    return None


def _subscribed(conn: Connection, topic: str, task: Task | None) -> Entry:
    """A subscription streams a patient's document (or the task list) to this person:
    on the record before the snapshot goes out."""
    if task is None:
        return entry(conn.info.principal, Action.TOPIC_SUBSCRIBE, detail=topic)
    return entry(conn.info.principal, Action.TOPIC_SUBSCRIBE, task_id=task.id,
                 patient_id=task.patient_id, detail=topic)  # fmt: skip


async def unsubscribe(
    services: WsServices, conn: Connection, msg: dict[str, Any]
) -> dict[str, Any]:
    topic = msg["topic"]
    if topic not in conn.subscriptions:
        raise WsError(WsErrorCode.NOT_SUBSCRIBED, f"Not subscribed to {str(topic)[:80]!r}")
    conn.subscriptions = tuple(t for t in conn.subscriptions if t != topic)
    services.hub.unsubscribe(topic, conn)
    return {"topic": topic}


async def ack(services: WsServices, conn: Connection, msg: dict[str, Any]) -> dict[str, Any]:
    conn.last_ack = max(conn.last_ack, msg["seq"])
    return {"seq": conn.last_ack}


async def ping(services: WsServices, conn: Connection, msg: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True}


_SUBSCRIBE = {
    "topic": Field((str,)),
    "since": Field((int,), required=False, nullable=True),
    "epoch": Field((str,), required=False, nullable=True),
}
COMMANDS: dict[str, Command] = {
    cmd.type: cmd
    for cmd in (
        Command("subscribe", _SUBSCRIBE, subscribe, Permission.TASK_READ),
        Command("unsubscribe", {"topic": Field((str,))}, unsubscribe),
        Command("ack", {"seq": Field((int,))}, ack),
        Command("ping", {}, ping),
    )
}

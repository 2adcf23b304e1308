"""The client commands: subscribe, unsubscribe, ack, ping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocrlive.ws.hub import event_frame
from ocrlive.ws.outbox import Frame
from ocrlive.ws.protocol import TOPIC_RE, Field, WsError, command, result_frame

if TYPE_CHECKING:
    from ocrlive.ws.connection import Connection
    from ocrlive.ws.view import WsServices


@command(
    "subscribe",
    topic=Field((str,)),
    since=Field((int,), required=False, nullable=True),
    epoch=Field((str,), required=False, nullable=True),
)
async def subscribe(
    services: WsServices, conn: Connection, msg: dict[str, Any]
) -> dict[str, Any] | None:
    topic: str = msg["topic"]
    if not TOPIC_RE.match(topic):
        raise WsError("invalid_topic", "topic must be 'tasks' or 'task:<id>'")
    task_id = topic.removeprefix("task:") if topic != "tasks" else None
    # Live events are held from before the log is read, so none falls between the
    # replay and the live stream; release() drops those the replay already sent.
    conn.hold(topic)
    services.hub.subscribe(topic, conn)
    rec = await services.recovery.recover(task_id, msg.get("since"), msg.get("epoch"))
    if rec is None:
        services.hub.unsubscribe(topic, conn)
        conn.release(topic, 2**62)
        raise WsError("not_found", f"No task with id {task_id!r}")
    conn.subscriptions.add(topic)
    payload = {"topic": topic, "recovered": rec.recovered, "seq": rec.seq}
    payload |= {"epoch": services.recovery.epoch, "snapshot": rec.snapshot}
    conn.send(Frame(result_frame(msg["id"], payload)))
    # Replayed events are exactly what was missed: none of them may be collapsed.
    await conn.send_replay(
        event_frame(topic, e, e.task.dumps(), collapsible=False) for e in rec.events
    )
    conn.release(topic, rec.release_after)
    return None


@command("unsubscribe", topic=Field((str,)))
async def unsubscribe(
    services: WsServices, conn: Connection, msg: dict[str, Any]
) -> dict[str, Any]:
    topic = msg["topic"]
    if topic not in conn.subscriptions:
        raise WsError("not_subscribed", f"Not subscribed to {str(topic)[:80]!r}")
    conn.subscriptions.discard(topic)
    services.hub.unsubscribe(topic, conn)
    return {"topic": topic}


@command("ack", seq=Field((int,)))
async def ack(services: WsServices, conn: Connection, msg: dict[str, Any]) -> dict[str, Any]:
    conn.last_ack = max(conn.last_ack, msg["seq"])
    return {"seq": conn.last_ack}


@command("ping")
async def ping(services: WsServices, conn: Connection, msg: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True}

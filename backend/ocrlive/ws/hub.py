"""Topics and their subscribers: the Publisher that tasks/ hands committed events to
(app.py wires it). An event is serialized once per topic for all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ocrlive.events import Event, EventType, Publisher
from ocrlive.ws.outbox import Frame

if TYPE_CHECKING:
    from ocrlive.ws.connection import Connection

TASKS_TOPIC = "tasks"


def task_topic(task_id: str) -> str:
    return f"task:{task_id}"


def event_frame(topic: str, event: Event, task_json: str, *, collapsible: bool = True) -> Frame:
    text = (
        f'{{"type":"event","topic":{json.dumps(topic)},"seq":{event.seq},'
        f'"event":"{event.type}","task":{task_json}}}'
    )
    key = (topic, event.task.id) if collapsible and event.type == EventType.PROGRESS else None
    return Frame(text=text, seq=event.seq, key=key)


class Hub(Publisher):
    def __init__(self) -> None:
        self._topics: dict[str, dict[int, Connection]] = {}
        self.published = 0

    def subscribe(self, topic: str, conn: Connection) -> None:
        self._topics.setdefault(topic, {})[conn.id] = conn

    def unsubscribe(self, topic: str, conn: Connection) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.pop(conn.id, None)
            if not subscribers:
                del self._topics[topic]

    def drop(self, conn: Connection) -> None:
        for topic in conn.subscriptions:
            self.unsubscribe(topic, conn)

    def publish(self, event: Event) -> None:
        task_json = event.task.dumps()
        self.published += 1
        for topic in (TASKS_TOPIC, task_topic(event.task.id)):
            subscribers = self._topics.get(topic)
            if not subscribers:
                continue
            frame = event_frame(topic, event, task_json)
            for conn in list(subscribers.values()):
                conn.deliver(topic, frame)

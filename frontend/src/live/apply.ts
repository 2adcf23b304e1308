// Rules for merging task state from three sources (topic snapshots, events, HTTP replies)
// into the store. Versions are seqs of one event log, so they only compare within one
// epoch: after an epoch change the first write for each task wins regardless of version.
import type { Task } from "../api/types";
import type { EventMessage } from "./protocol";
import { TERMINAL_EVENTS } from "./protocol";
import type { LiveStore } from "./store";

export class TaskApplier {
  private epoch: string | null = null;
  private readonly taskEpoch = new Map<string, string | null>();
  // Highest event seq handed to event listeners per task: the same event arrives once per
  // topic (tasks and task:<id>), but listeners must see it once.
  private readonly deliveredSeq = new Map<string, number>();

  constructor(private readonly store: LiveStore) {}

  setEpoch(epoch: string): void {
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.deliveredSeq.clear();
  }

  /** Newer version wins; returns whether the store changed. */
  upsert(task: Task): boolean {
    const current = this.store.task(task.id);
    const sameEpoch = this.taskEpoch.get(task.id) === this.epoch;
    if (current && sameEpoch && current.version >= task.version) return false;
    this.write(task);
    return true;
  }

  /** `recovered: false` for one task: the snapshot is the truth. */
  replace(task: Task): void {
    this.write(task);
  }

  /** `recovered: false` for the `tasks` topic; `keep` protects tasks other topics still own. */
  replaceAll(tasks: readonly Task[], keep: (id: string) => boolean): void {
    this.store.batch(() => {
      const incoming = new Set(tasks.map((t) => t.id));
      for (const id of this.store.taskIds()) {
        if (!incoming.has(id) && !keep(id)) {
          this.store.deleteTask(id);
          this.taskEpoch.delete(id);
        }
      }
      for (const t of tasks) this.write(t);
    });
  }

  /**
   * Applies an event that passed its topic's seq check. Returns true when listeners should
   * hear about it (first time this event is seen across topics).
   */
  applyEvent(msg: EventMessage): boolean {
    this.upsert(msg.task);
    const last = this.deliveredSeq.get(msg.task.id) ?? -Infinity;
    if (msg.seq <= last) return false;
    this.deliveredSeq.set(msg.task.id, msg.seq);
    if (TERMINAL_EVENTS.has(msg.event)) {
      this.store.addTransition(msg.task.id, {
        seq: msg.seq,
        event: msg.event,
        status: msg.task.status,
        error: msg.task.error ?? null,
        at: msg.task.updated_at,
      });
    }
    return true;
  }

  private write(task: Task): void {
    this.store.setTask(task);
    this.taskEpoch.set(task.id, this.epoch);
  }
}

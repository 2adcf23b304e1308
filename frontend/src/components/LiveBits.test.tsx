import { act, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { createLiveEnv, renderLive, type LiveEnv } from "../test/renderLive";
import { ConnectionBadge, connectionText } from "./ConnectionBadge";
import { LiveAnnouncer } from "./LiveAnnouncer";
import { SessionBanner } from "./SessionBanner";
import { INITIAL_CONNECTION } from "../live/store";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

describe("ConnectionBadge and SessionBanner", () => {
  it("words every connection state", () => {
    const at = (patch: Partial<typeof INITIAL_CONNECTION>) => connectionText({ ...INITIAL_CONNECTION, ...patch }, 1000);
    expect(at({ state: "open" })).toBe("Live");
    expect(at({ state: "reconnecting", retryAt: 4200 })).toBe("Connection lost, reconnecting in 4 s");
    expect(at({ state: "offline" })).toBe("Offline");
    expect(at({ state: "unauthorized" })).toBe("Session expired");
  });

  it("goes from live to reconnecting to live, and to session expired on 4001", async () => {
    env = createLiveEnv();
    env.server.emit("task.created", { id: "a" });
    renderLive(
      <>
        <ConnectionBadge />
        <SessionBanner />
      </>,
      env,
    );
    const text = () => screen.getByTestId("connection-text").textContent;
    await waitFor(() => expect(text()).toBe("Live"));
    act(() => env.server.dropAll(1006));
    expect(text()).toMatch(/^Connection lost, reconnecting in 1 s$/);
    expect(screen.getByRole("button", { name: "Reconnect now" })).toBeInTheDocument();
    await waitFor(() => expect(text()).toBe("Live"));
    act(() => env.server.dropAll(4001));
    expect(text()).toBe("Session expired");
    expect(screen.getByRole("alert")).toHaveTextContent("Sign in again");
  });
});

describe("LiveAnnouncer", () => {
  it("announces completions and failures politely, even within one burst", async () => {
    env = createLiveEnv();
    env.server.emit("task.created", { id: "a", filename: "a.png", patient_id: "P-1" });
    env.server.emit("task.created", { id: "b", filename: "b.pdf", patient_id: "P-2" });
    env.services.client.subscribeTopic("tasks");
    renderLive(<LiveAnnouncer />, env);
    await waitFor(() => expect(env.services.client.getSnapshot().connection.state).toBe("open"));
    await waitFor(() => expect(env.services.client.getSnapshot().topics.get("tasks")?.status).toBe("live"));
    act(() => {
      env.server.emit("task.completed", { id: "a", status: "completed" });
      env.server.emit("task.failed", { id: "b", status: "failed", error: { code: "timeout", message: "t" } });
      env.server.emit("task.requeued", { id: "b", status: "queued", error: null });
    });
    const region = screen.getByTestId("announcer");
    expect(region).toHaveAttribute("aria-live", "polite");
    expect(region).toHaveTextContent("Text ready: a.png for patient P-1.");
    expect(region).toHaveTextContent("Reading failed: b.pdf for patient P-2. Reading this document took too long");
  });
});

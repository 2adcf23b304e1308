import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../pages/App";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../test/renderLive";
import { SessionGate } from "./SessionGate";

let env: LiveEnv;
afterEach(() => {
  env?.services.client.close();
  vi.unstubAllGlobals();
});

const PERMS: Record<string, string[]> = {
  clerk: ["task.upload", "task.cancel", "task.retry", "task.read", "status.read", "tokens.own"],
  clinician: ["task.read", "task.search", "task.export", "result.correct", "status.read", "tokens.own"],
  auditor: ["audit.read"],
};

function session(role: string) {
  return { user: { id: 1, username: `${role}-1`, role, via: "session", permissions: PERMS[role], has_password: true } };
}

function setup(signedInAs: string | null, oidc = false): LiveEnv {
  env = createLiveEnv();
  env.routes.set("GET /api/session", () =>
    signedInAs ? json(200, session(signedInAs)) : json(401, { error: { code: "unauthorized", message: "sign in" } }),
  );
  env.routes.set("GET /api/auth", () => json(200, { password: true, oidc: oidc ? { name: "Trust SSO", url: "/login/oidc" } : null }));
  env.routes.set("GET /api/tasks?status=all&limit=200", () => json(200, { tasks: [] }));
  env.routes.set("GET /api/audit?", () => json(200, { entries: [] }));
  vi.stubGlobal("fetch", env.fetch);
  return env;
}

describe("SessionGate", () => {
  it("signs in with a password and offers single sign-on when configured", async () => {
    setup(null, true);
    env.routes.set("POST /api/login", () => json(200, session("clerk")));
    const user = userEvent.setup();
    renderLive(<SessionGate><App /></SessionGate>, env);
    const form = await screen.findByRole("form", { name: "Sign in" });
    expect(await within(form).findByRole("link", { name: "Sign in with Trust SSO" })).toHaveAttribute("href", "/login/oidc");
    await user.type(within(form).getByLabelText("Username"), "clerk-1");
    await user.type(within(form).getByLabelText("Password"), "a long password");
    await user.click(within(form).getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText(/Signed in as/)).toHaveTextContent("Signed in as clerk-1 clerk");
    expect(screen.getByRole("heading", { name: "Upload documents" })).toBeInTheDocument();
    const login = env.fetch.mock.calls.find(([u]) => u === "/api/login");
    expect(JSON.parse(String(login?.[1]?.body))).toEqual({ username: "clerk-1", password: "a long password" });
  });

  it("offers a clinician no upload form and no admin pages", async () => {
    setup("clinician");
    renderLive(<SessionGate><App /></SessionGate>, env);
    expect(await screen.findByText(/Signed in as/)).toHaveTextContent("clinician");
    expect(screen.queryByRole("heading", { name: "Upload documents" })).not.toBeInTheDocument();
    const nav = screen.getByRole("navigation", { name: "Pages" });
    expect(within(nav).getAllByRole("button").map((b) => b.textContent)).toEqual(["Documents", "API tokens"]);
  });

  it("shows an auditor the audit log only", async () => {
    setup("auditor");
    renderLive(<SessionGate><App /></SessionGate>, env);
    expect(await screen.findByRole("heading", { name: "Audit log" })).toBeInTheDocument();
    const nav = screen.getByRole("navigation", { name: "Pages" });
    expect(within(nav).getAllByRole("button").map((b) => b.textContent)).toEqual(["Audit log"]);
    expect(screen.queryByRole("heading", { name: "Documents" })).not.toBeInTheDocument();
  });

  it("keeps the page and asks to sign in again when the session ends", async () => {
    setup("clerk");
    env.routes.set("POST /api/login", () => json(200, session("clerk")));
    const user = userEvent.setup();
    renderLive(<SessionGate><App /></SessionGate>, env);
    const upload = await screen.findByRole("region", { name: "Upload documents" });
    const patient = within(upload).getByLabelText("Patient ID");
    await user.type(patient, "P-KEEP");
    env.services.client.reportUnauthorized();
    const dialog = await screen.findByRole("dialog", { name: "Sign in again" });
    await user.type(within(dialog).getByLabelText("Password"), "a long password");
    await user.click(within(dialog).getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(within(screen.getByRole("region", { name: "Upload documents" })).getByLabelText("Patient ID")).toHaveValue("P-KEEP");
  });
});

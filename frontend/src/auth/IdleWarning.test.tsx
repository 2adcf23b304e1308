import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SessionInfo } from "./api";
import { IdleWarning } from "./IdleWarning";
import { SessionProvider, sessionState } from "./session";

afterEach(() => vi.useRealTimers());

function info(secondsLeft: number): SessionInfo {
  return {
    user: { id: 1, username: "nurse", role: "clinician", via: "session", permissions: [] },
    idle_expires_at: new Date(Date.now() + secondsLeft * 1000).toISOString(),
    idle_timeout: 900,
  };
}

describe("IdleWarning", () => {
  it("warns in the last minute and 'Stay signed in' asks the server for more time", async () => {
    const stay = vi.fn();
    const state = sessionState(info(0), () => {}, stay);
    const { rerender } = render(
      <SessionProvider value={state}>
        <IdleWarning info={info(600)} onExpired={() => {}} />
      </SessionProvider>,
    );
    expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
    rerender(
      <SessionProvider value={state}>
        <IdleWarning info={info(45)} onExpired={() => {}} />
      </SessionProvider>,
    );
    const warning = screen.getByRole("alertdialog");
    expect(warning).toHaveTextContent(/signed out in 4\d seconds/);
    await userEvent.setup().click(screen.getByRole("button", { name: "Stay signed in" }));
    expect(stay).toHaveBeenCalledOnce();
  });

  it("counts down every second", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: false });
    const state = sessionState(info(0), () => {}, () => {});
    render(
      <SessionProvider value={state}>
        <IdleWarning info={info(30)} onExpired={() => {}} />
      </SessionProvider>,
    );
    expect(screen.getByRole("alertdialog")).toHaveTextContent("30 seconds");
    await act(async () => {
      vi.advanceTimersByTime(5000);
    });
    expect(screen.getByRole("alertdialog")).toHaveTextContent("25 seconds");
  });
});

import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { OcrResult } from "../api/types";
import { makeResult } from "../test/factories";
import { ResultViewer } from "./ResultViewer";

function box(i: number): SVGPolygonElement {
  return document.querySelector(`polygon[data-line="${i}"]`) as SVGPolygonElement;
}

function lineButton(text: string): HTMLElement {
  return screen.getByRole("button", { name: new RegExp(`^${text}`) });
}

describe("ResultViewer", () => {
  it("draws each line's box over the page image, scaled by the page size", () => {
    render(<ResultViewer result={makeResult("a")} />);
    const img = screen.getByRole("img", { name: "Scanned page 1" });
    expect(img).toHaveAttribute("src", "/api/tasks/a/pages/1.png");
    const svg = document.querySelector("svg.page-stage__overlay")!;
    expect(svg).toHaveAttribute("viewBox", "0 0 1000 1400");
    expect(box(0)).toHaveAttribute("points", "100,100 600,100 600,160 100,160");
    expect(document.querySelectorAll("polygon")).toHaveLength(3);
  });

  it("says when a page was turned upright, and keeps the upright page's boxes", () => {
    const result = makeResult("a");
    result.pages = result.pages.map((p) => ({ ...p, rotation: 90 }));
    render(<ResultViewer result={result} />);
    expect(screen.getByText(/turned 90° clockwise/)).toBeInTheDocument();
    const svg = document.querySelector("svg.page-stage__overlay")!;
    expect(svg).toHaveAttribute("viewBox", "0 0 1000 1400");
    expect(box(0)).toHaveAttribute("points", "100,100 600,100 600,160 100,160");
  });

  it("says nothing about turning an upright page", () => {
    render(<ResultViewer result={makeResult("a")} />);
    expect(screen.queryByText(/clockwise/)).toBeNull();
  });

  it("highlights the box of a clicked line, and the line of a clicked box", async () => {
    const user = userEvent.setup();
    render(<ResultViewer result={makeResult("a")} />);
    await user.click(lineButton("Dr Jane Smith"));
    expect(lineButton("Dr Jane Smith")).toHaveAttribute("aria-pressed", "true");
    expect(box(1)).toHaveClass("is-selected");
    expect(box(0)).not.toHaveClass("is-selected");

    fireEvent.click(box(0));
    expect(lineButton("Referral letter")).toHaveAttribute("aria-pressed", "true");
    expect(lineButton("Dr Jane Smith")).toHaveAttribute("aria-pressed", "false");
    expect(box(0)).toHaveClass("is-selected");
  });

  it("marks low-confidence lines in text, not only by colour", () => {
    render(<ResultViewer result={makeResult("a")} />);
    expect(lineButton("Blood pressure")).toHaveTextContent("Low confidence 62%");
    expect(box(2)).toHaveClass("box--low");
    expect(lineButton("Referral letter")).not.toHaveTextContent("Low confidence");
    expect(screen.getAllByText(/Low confidence/)).toHaveLength(1);
  });

  it("copies the text and downloads .txt and .json", async () => {
    const user = userEvent.setup(); // before the stub: setup() installs its own clipboard
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const createObjectURL = vi.fn((_blob: Blob) => "blob:fake");
    const revokeObjectURL = vi.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    const clicks: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(this.download);
    });
    const result = makeResult("a");
    render(<ResultViewer result={result} nameParts={["P-12345", "letter.pdf"]} />);

    await user.click(screen.getByRole("button", { name: "Copy text" }));
    expect(writeText).toHaveBeenCalledWith(result.text);
    expect(await screen.findByText("Text copied.")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Download .txt" }));
    await user.click(screen.getByRole("button", { name: "Download .json" }));
    expect(clicks).toEqual(["ocr-P-12345-letter.txt", "ocr-P-12345-letter.json"]);
    const jsonBlob = createObjectURL.mock.calls[1]![0];
    expect(JSON.parse(await jsonBlob.text())).toEqual(result);
    await waitFor(() => expect(revokeObjectURL).toHaveBeenCalledTimes(2));
  });

  it("switches pages and renders server text as text", async () => {
    const base = makeResult("a");
    const evil = "<img src=x onerror=alert(1)>";
    const result: OcrResult = {
      ...base,
      pages: [base.pages[0]!, { ...base.pages[0]!, number: 2, lines: [{ text: evil, score: 0.9, box: [[0, 0], [1, 0], [1, 1], [0, 1]] }] }],
    };
    const user = userEvent.setup();
    render(<ResultViewer result={result} />);
    await user.click(screen.getByRole("button", { name: "Page 2" }));
    expect(screen.getByRole("button", { name: "Page 2" })).toHaveAttribute("aria-pressed", "true");
    const lines = screen.getByRole("list", { name: "Recognized lines" });
    expect(within(lines).getByText(evil)).toBeInTheDocument();
    expect(document.querySelector('img[src="x"]')).toBeNull();
  });

  it("edits a line in place: the crop beside the text, Enter saves, Escape leaves", async () => {
    const result: OcrResult = { ...makeResult("a"), revision: 4, pending_review: 1 };
    result.pages[0]!.lines[2] = { ...result.pages[0]!.lines[2]!, doubtful: true, reviewed: null };
    const onEditLine = vi.fn(async () => 5);
    const user = userEvent.setup();
    render(<ResultViewer result={result} onEditLine={onEditLine} />);
    expect(screen.getByText(/1 doubtful line to review/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next line to review" }));
    const input = screen.getByRole("textbox", { name: "Text of the line" });
    expect(input).toHaveFocus();
    expect(input).toHaveValue("Blood pressure 120/80");
    expect(screen.getByRole("img", { name: "Image of line 3" })).toHaveAttribute("viewBox", "88 288 624 74");
    await user.clear(input);
    await user.type(input, "Blood pressure 126/80{Enter}");
    expect(onEditLine).toHaveBeenCalledWith(1, 2, { action: "correct", text: "Blood pressure 126/80", revision: 4 });
    expect(await screen.findByText("Line 3 of page 1 corrected; revision 5.")).toBeInTheDocument();
    expect(screen.queryByRole("textbox", { name: "Text of the line" })).toBeNull();

    await user.click(lineButton("Dr Jane Smith"));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("textbox", { name: "Text of the line" })).toBeNull();
    expect(onEditLine).toHaveBeenCalledTimes(1);
  });

  it("shows a refused edit in words and keeps the editor open", async () => {
    const onEditLine = vi.fn(async () => {
      throw Object.assign(new Error("The document changed (revision 6, you saw 4); reload it"), { code: "revision_conflict" });
    });
    const user = userEvent.setup();
    render(<ResultViewer result={{ ...makeResult("a"), revision: 4 }} onEditLine={onEditLine} />);
    await user.click(lineButton("Referral letter"));
    await user.click(screen.getByRole("button", { name: "Confirm as read" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The document changed");
    expect(onEditLine).toHaveBeenCalledWith(1, 0, { action: "confirm", revision: 4 });
    expect(screen.getByRole("textbox", { name: "Text of the line" })).toBeInTheDocument();
  });
});

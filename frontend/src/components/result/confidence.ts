import type { OcrLine } from "../../api/types";

/** Lines PaddleOCR scored below this are worth a second look by a human. The server's
 * OCRLIVE_REVIEW_THRESHOLD decides (`doubtful`); this is for results that lack it. */
export const LOW_CONFIDENCE = 0.8;

export function isDoubtful(line: OcrLine): boolean {
  return line.doubtful ?? line.score < LOW_CONFIDENCE;
}

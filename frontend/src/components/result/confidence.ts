/** Lines PaddleOCR scored below this are worth a second look by a human. */
export const LOW_CONFIDENCE = 0.8;

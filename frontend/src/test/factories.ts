import type { OcrResult, Task } from "../api/types";

let counter = 0;

export function makeTask(patch: Partial<Task> = {}): Task {
  counter += 1;
  return {
    id: `t${counter}`,
    patient_id: "P-12345",
    document_type: "referral_letter",
    filename: "letter.pdf",
    content_type: "application/pdf",
    size: 183422,
    priority: "normal",
    status: "queued",
    progress: 0,
    stage: "queued",
    message: "Waiting in the queue",
    pages_done: 0,
    pages_total: 0,
    attempts: 0,
    created_at: "2026-11-25T10:00:00.000000+00:00",
    updated_at: "2026-11-25T10:00:00.000000+00:00",
    error: null,
    version: 1,
    ...patch,
  };
}

export function makeResult(taskId: string): OcrResult {
  return {
    task_id: taskId,
    text: "Referral letter\nDr Jane Smith\nBlood pressure 120/80",
    score: 0.85,
    engine: { name: "paddleocr" },
    pages: [
      {
        number: 1,
        width: 1000,
        height: 1400,
        rotation: 0,
        text: "Referral letter\nDr Jane Smith\nBlood pressure 120/80",
        image_url: `/api/tasks/${taskId}/pages/1.png`,
        lines: [
          { text: "Referral letter", score: 0.98, box: [[100, 100], [600, 100], [600, 160], [100, 160]] },
          { text: "Dr Jane Smith", score: 0.91, box: [[100, 200], [500, 200], [500, 250], [100, 250]] },
          { text: "Blood pressure 120/80", score: 0.62, box: [[100, 300], [700, 300], [700, 350], [100, 350]] },
        ],
      },
    ],
  };
}

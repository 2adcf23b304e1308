// Checks made before sending, so a clerk learns about a wrong file in a second rather than
// after a 50 MB upload. The server checks again by content; these are only a courtesy.

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
/** Same rule as the server (backend/ocrlive/http/uploads.py PATIENT_ID_RE). */
export const PATIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_./ -]{0,63}$/;

const TYPES: Record<string, readonly string[]> = {
  "image/png": [".png"],
  "image/jpeg": [".jpg", ".jpeg"],
  "image/tiff": [".tif", ".tiff"],
  "application/pdf": [".pdf"],
};

export const ACCEPT = Object.entries(TYPES)
  .flatMap(([mime, exts]) => [mime, ...exts])
  .join(",");

const EXTENSIONS = Object.values(TYPES).flat();

export function validatePatientId(raw: string): string | null {
  const id = raw.trim();
  if (!id) return "Enter the patient ID.";
  if (id.length > 64) return "The patient ID is longer than 64 characters.";
  if (!PATIENT_ID_PATTERN.test(id)) {
    return (
      "The patient ID must start with a letter or digit and may contain only letters, " +
      "digits, spaces and - _ . /"
    );
  }
  return null;
}

function hasSupportedType(file: File): boolean {
  // Some browsers report TIFFs (and files from network shares) with an empty type.
  if (file.type && file.type in TYPES) return true;
  const name = file.name.toLowerCase();
  return !file.type && EXTENSIONS.some((ext) => name.endsWith(ext));
}

export function validateFile(file: File, maxBytes = MAX_UPLOAD_BYTES): string | null {
  if (!hasSupportedType(file)) return `“${file.name}” is not a PNG, JPEG, TIFF or PDF file.`;
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (file.size > maxBytes) {
    const mb = Math.round(maxBytes / (1024 * 1024));
    return `“${file.name}” is larger than ${mb} MB.`;
  }
  return null;
}

export function validateFiles(files: readonly File[], maxBytes = MAX_UPLOAD_BYTES): string[] {
  if (files.length === 0) return ["Choose at least one file to upload."];
  return files.map((f) => validateFile(f, maxBytes)).filter((m): m is string => m !== null);
}

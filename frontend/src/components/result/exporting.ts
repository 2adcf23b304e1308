// Copy and download helpers. Ward PCs often reach ocrlive over plain http, where
// navigator.clipboard does not exist, hence the execCommand fallback.

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // permission denied: fall through to the legacy path
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    return typeof document.execCommand === "function" && document.execCommand("copy");
  } finally {
    area.remove();
  }
}

export function downloadBlob(filename: string, content: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoked on the next tick: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** A filename that is safe on Windows ward PCs. */
export function safeName(...parts: string[]): string {
  return parts
    .filter(Boolean)
    .join("-")
    .replace(/\.[a-z0-9]{2,4}$/i, "")
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .slice(0, 100);
}

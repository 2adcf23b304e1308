import type { SnippetPart } from "../../api/types";

/** Plain-text segments from the server; matches become <mark> (never HTML from a document). */
export function Snippet({ parts }: { parts: readonly SnippetPart[] }) {
  return (
    <span className="snippet">
      {parts.map((part, i) => (part.match ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
    </span>
  );
}

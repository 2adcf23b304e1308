import type { OcrPage } from "../../api/types";
import { isDoubtful } from "./confidence";

interface Props {
  page: OcrPage;
  selected: number | null;
  onSelect: (index: number) => void;
}

/**
 * The page image with one polygon per recognized line. The SVG uses the page's pixel size
 * as its viewBox and stretches over the image, so boxes stay aligned at any width.
 * It is hidden from screen readers: the line list next to it is the accessible twin.
 */
export function PageOverlay({ page, selected, onSelect }: Props) {
  return (
    <div className="page-stage" style={{ aspectRatio: `${page.width} / ${page.height}` }}>
      <img src={page.image_url} alt={`Scanned page ${page.number}`} className="page-stage__img" />
      <svg
        className="page-stage__overlay"
        viewBox={`0 0 ${page.width} ${page.height}`}
        preserveAspectRatio="none"
        aria-hidden="true"
      >
        {page.lines.map((line, i) => {
          const cls = [
            "box",
            isDoubtful(line) && !line.reviewed ? "box--low" : "",
            i === selected ? "is-selected" : "",
          ].join(" ");
          return (
            <polygon
              key={i}
              data-line={i}
              className={cls}
              points={line.box.map(([x, y]) => `${x},${y}`).join(" ")}
              onClick={() => onSelect(i)}
            >
              <title>{line.text}</title>
            </polygon>
          );
        })}
      </svg>
    </div>
  );
}

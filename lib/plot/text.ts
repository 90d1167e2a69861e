/**
 * Text helpers for figure labels.
 * @module
 */

/**
 * Breaks text into lines of at most `width` characters (at spaces or after slashes and
 * commas), joined by `<br>` as Plotly labels take them, so a long title fits a narrow figure
 * or panel instead of running into its neighbour.
 */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/(?<=[ /,])/)) {
    if (line.length + word.length > width && line !== "") {
      lines.push(line.trimEnd());
      line = "";
    }
    line += word;
  }
  if (line !== "") lines.push(line.trimEnd());
  return lines.join("<br>");
}

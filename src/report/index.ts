import type { Report } from "../contracts/index.js";
import { renderHtml } from "./html.js";
import { renderJson } from "./json.js";
import { renderMarkdown } from "./markdown.js";
import { renderText, type TextOptions } from "./text.js";

export type ReportFormat = "text" | "json" | "md" | "html";
export const REPORT_FORMATS: readonly ReportFormat[] = ["text", "json", "md", "html"];

export function renderReport(report: Report, format: ReportFormat, opts: TextOptions = {}): string {
  switch (format) {
    case "text":
      return renderText(report, opts);
    case "json":
      return renderJson(report);
    case "md":
      return renderMarkdown(report);
    case "html":
      return renderHtml(report);
  }
}

export { escapeHtml, renderHtml } from "./html.js";
export { renderJson } from "./json.js";
export { renderMarkdown } from "./markdown.js";
export { siteClassText } from "./present.js";
export { reportJsonSchema, reportSchema } from "./reportSchema.js";
export { renderText, type TextOptions } from "./text.js";

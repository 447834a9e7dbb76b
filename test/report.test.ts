/**
 * Renderers against a report recorded from a real crash (golden files), the JSON Schema against the
 * zod mirror, and one live crash rendered in every format.
 * UPDATE_GOLDEN=1 rewrites the golden files and docs/report.schema.json;
 * RECORD_REPORT=1 re-records the sample report itself from a new real crash.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { emptyReport, type Report } from "../src/contracts/reportModel.js";
import {
  escapeHtml,
  REPORT_FORMATS,
  type ReportFormat,
  renderHtml,
  renderJson,
  renderMarkdown,
  renderReport,
  renderText,
  reportJsonSchema,
  reportSchema,
} from "../src/report/index.js";
import { FIXTURES } from "./helpers/go.js";
import { liveReport, placeholders, REPO } from "./report-sample.js";

const DIR = join(FIXTURES, "reports");
// JSON and Markdown fixtures end in .txt: Biome formats *.json and *.md under test/ (arrays onto one
// line...), while these must stay byte for byte what the renderers write.
const SAMPLE = join(DIR, "gdbpanic.report.json.txt");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const EXT: Record<ReportFormat, string> = { text: "txt", json: "json.txt", md: "md.txt", html: "html" };

function golden(name: string, actual: string): void {
  const file = join(DIR, name);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) throw new Error(`${file} missing: run with UPDATE_GOLDEN=1`);
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

let sample: Report;
beforeAll(async () => {
  if (process.env.RECORD_REPORT === "1") {
    const { report, pid } = await liveReport();
    writeFileSync(SAMPLE, placeholders(renderJson(report), pid));
  }
  sample = reportSchema.parse(JSON.parse(readFileSync(SAMPLE, "utf8"))) as Report;
});

describe("golden renderings of a recorded real crash", () => {
  for (const format of REPORT_FORMATS) {
    it(`${format}`, () => {
      golden(`gdbpanic.golden.${EXT[format]}`, placeholders(renderReport(sample, format)));
    });
  }

  it("the sample came from a real gdb analysis of the gdbpanic fixture", () => {
    expect(sample.sources.gdb.used).toBe(true);
    expect(sample.culprit).toEqual({
      function: "main.checkout",
      file: "<REPO>/test/fixtures/go/gdbpanic/main.go",
      line: 19,
    });
    const src = readFileSync(join(REPO, "test/fixtures/go/gdbpanic/main.go"), "utf8").split("\n");
    const f = sample.goroutine!.frames.find((x) => x.function === "main.checkout")!;
    expect(f.source!.lines[19 - f.source!.startLine]).toBe(src[18]);
  });
});

describe("every format names the culprit and the message", () => {
  const check = (r: Report) => {
    const at = `${r.culprit!.file}:${r.culprit!.line}`;
    for (const format of REPORT_FORMATS) {
      const out = renderReport(r, format);
      // JSON holds file and line apart; the others print them as one location.
      if (format === "json") {
        const j = JSON.parse(out) as Report;
        expect(`${j.culprit!.file}:${j.culprit!.line}`).toBe(at);
        expect(j.message).toBe(r.message);
      } else expect(out, format).toContain(format === "html" ? escapeHtml(at) : at);
      if (format !== "json")
        expect(out, format).toContain(format === "html" ? r.message.replace(/>/g, "&gt;") : r.message);
    }
  };
  it("for the recorded sample", () => check(sample));
  it("for a live crash", async () => {
    const { report } = await liveReport();
    expect(report.message).toBe("cart of ada over limit: 21 > 10");
    check(report);
    expect(reportSchema.safeParse(JSON.parse(renderJson(report))).success).toBe(true);
  });
});

describe("report.schema.json", () => {
  it("is the one generated from the zod schema", () => {
    const generated = `${JSON.stringify(reportJsonSchema(), null, 2)}\n`;
    const file = join(REPO, "docs/report.schema.json");
    if (UPDATE) writeFileSync(file, generated);
    expect(readFileSync(file, "utf8")).toBe(generated);
  });

  it("is draft 2020-12 and versioned, and its required keys are the Report's", () => {
    const s = JSON.parse(readFileSync(join(REPO, "docs/report.schema.json"), "utf8"));
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(s.properties.schemaVersion.const).toBe(1);
    expect([...s.required].sort()).toEqual(Object.keys(emptyReport()).sort());
  });

  it("accepts rendered reports and rejects a broken one", () => {
    expect(reportSchema.safeParse(JSON.parse(renderJson(sample))).success).toBe(true);
    expect(reportSchema.safeParse(JSON.parse(renderJson(emptyReport()))).success).toBe(true);
    const broken = { ...JSON.parse(renderJson(sample)), culprit: { function: "x", file: "y" } };
    expect(reportSchema.safeParse(broken).success).toBe(false);
  });

  it("renders JSON in the contract's key order whatever order the report was built in", () => {
    const shuffled = Object.fromEntries(Object.entries(sample).reverse()) as unknown as Report;
    expect(renderJson(shuffled)).toBe(renderJson(sample));
    expect(Object.keys(JSON.parse(renderJson(shuffled)))[0]).toBe("schemaVersion");
    expect(renderJson(sample)).toMatch(/^\{\n {2}"schemaVersion": 1,\n/);
  });
});

describe("hostile report text", () => {
  const evil = (): Report => {
    const r = structuredClone(sample);
    r.message = "<script>alert(1)</script> ```\n# pwned | x";
    r.value = '"<img src=x onerror=alert(2)>"';
    r.warnings = ["<b>bold</b> \x1b[31mred\x1b[0m"];
    r.goroutine!.frames[0]!.function = "main.<script>";
    return r;
  };

  it("HTML shows it as text, loads nothing and runs nothing", () => {
    const html = renderHtml(evil());
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(html).not.toMatch(/<[^>]*\b(?:src|href)=|url\(|@import|https?:/i);
    expect(html).not.toContain("\x1b");
    expect(html).toContain("default-src 'none'");
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
  });

  it("Markdown keeps it inside code", () => {
    const md = renderMarkdown(evil());
    // The message's own ``` cannot close the fence around it: that fence is longer.
    expect(md).toContain("````text\npanic: <script>alert(1)</script> ```\n# pwned | x\n````");
    expect(md).toContain("- \\<b\\>bold\\</b\\>");
  });

  it("text does not pass escape sequences to the terminal", () => {
    const txt = renderText(evil(), { colour: false });
    expect(txt).not.toContain("\x1b");
    expect(txt).toContain("\\x1b[31mred");
    expect(renderText(sample, { colour: true })).toContain("\x1b[");
  });
});

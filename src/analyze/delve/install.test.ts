import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { DELVE_VERSION, goBinDir, installedDelve } from "./install.js";

describe("the pinned Delve", () => {
  it("is the version the Makefile installs", () => {
    const makefile = readFileSync(resolve(import.meta.dirname, "../../../Makefile"), "utf8");
    expect(makefile).toContain(`DLV_VERSION := ${DELVE_VERSION}\n`);
  });

  it("is found where `go install` put it (make setup installs it before the tests)", () => {
    expect(installedDelve()).toBe(`${goBinDir()}/dlv`);
  });
});

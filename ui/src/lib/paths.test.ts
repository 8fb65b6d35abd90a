import { describe, expect, it } from "vitest";
import { defaultKitPath, defaultReportPath } from "./paths";

describe("defaultKitPath", () => {
  const id = "3f2a9c1be0d44a7f";

  it("puts the kit in the home folder, named after the repository", () => {
    expect(defaultKitPath("/home/ana", id)).toBe("/home/ana/lifeboat-recovery-kit-3f2a9c1b.txt");
    expect(defaultKitPath("/home/ana/", id)).toBe("/home/ana/lifeboat-recovery-kit-3f2a9c1b.txt");
  });

  it("follows a Windows home's separator", () => {
    expect(defaultKitPath("C:\\Users\\ana", id)).toBe("C:\\Users\\ana\\lifeboat-recovery-kit-3f2a9c1b.txt");
  });

  it("falls back to the bare name without a home", () => {
    expect(defaultKitPath("", id)).toBe("lifeboat-recovery-kit-3f2a9c1b.txt");
  });
});

describe("defaultReportPath", () => {
  it("names the report after the local day, in the home folder", () => {
    expect(defaultReportPath("/home/ana", new Date(2026, 0, 5, 23, 30))).toBe("/home/ana/lifeboat-restore-tests-2026-01-05.pdf");
  });
});

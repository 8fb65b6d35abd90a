import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { mockCommands, salesTimeline } from "../test/fixtures";
import SnapshotExport from "./SnapshotExport.svelte";

describe("SnapshotExport", () => {
  it("suggests a file in the home folder, saves the snapshot there and says its SHA-256 matched", async () => {
    const snapshot = { ...salesTimeline()[0].summary, tag: "prod/app" };
    const sent = mockCommands((cmd, args) => {
      if (cmd !== "export_snapshot") throw new Error(`unexpected ${cmd}`);
      const { request } = args as { request: { snapshot_id: string } };
      return { snapshot_id: request.snapshot_id, size: 2048, sha256: "0123456789abcdef0123", seconds: 1 };
    });
    render(SnapshotExport, { snapshot, homeDir: "/home/ana" });
    const path = screen.getByRole<HTMLInputElement>("textbox", { name: "Save to" });
    expect(path.value).toBe("/home/ana/prod-app-1111aaaa.dump");

    await fireEvent.input(path, { target: { value: "s3://bucket/x.dump" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save as file" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/file/);
    expect(sent("export_snapshot")).toEqual([]);

    await fireEvent.input(path, { target: { value: "/home/ana/app.dump" } });
    await fireEvent.click(screen.getByRole("checkbox", { name: "Replace the file if it exists" }));
    await fireEvent.click(screen.getByRole("button", { name: "Save as file" }));
    const saved = await screen.findByText(/matches/);
    expect(saved.textContent).toContain("2.0 KiB");
    expect(saved.textContent).toContain("/home/ana/app.dump");
    expect(sent("export_snapshot")[0]).toMatchObject({ request: { snapshot_id: snapshot.id, path: "/home/ana/app.dump", replace: true } });
  });
});

import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import * as api from "./api";
import { KEEP_EVERYTHING } from "./schedules";

describe("toApiError", () => {
  it("keeps the backend's errors", () => {
    expect(api.toApiError({ code: "wrong_passphrase", message: "wrong passphrase: no key slot opens with it" })).toEqual({
      code: "wrong_passphrase",
      message: "wrong passphrase: no key slot opens with it",
    });
  });

  it("wraps Tauri's string errors and unknown codes", () => {
    expect(api.toApiError("command check_repository not found")).toEqual({ code: "other", message: "command check_repository not found" });
    expect(api.toApiError({ code: "brand_new", message: "m" })).toEqual({ code: "other", message: "m" });
    expect(api.toApiError({ code: "invalid_input", message: "m", field: "backup" })).toEqual({ code: "invalid_input", message: "m", field: "backup" });
    expect(api.toApiError({ code: "invalid_input", message: "m", field: 3 })).toEqual({ code: "invalid_input", message: "m" });
    expect(api.toApiError(new Error("boom"))).toEqual({ code: "other", message: "boom" });
    expect(api.toApiError(undefined).code).toBe("other");
  });
});

describe("commands", () => {
  it("pass arguments by their camelCase names", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === "cancel_job" ? true : null;
    });
    await api.removeKey("abc");
    await api.cancelJob(42);
    await api.activity({ kinds: ["check"], statuses: [], limit: 10 });
    await api.addKey({ label: "Maria", passphrase: "long enough" });
    expect(calls).toEqual([
      ["remove_key", { id: "abc" }],
      ["cancel_job", { job: 42 }],
      ["activity", { filter: { kinds: ["check"], statuses: [], limit: 10 } }],
      ["add_key", { request: { label: "Maria", passphrase: "long enough" } }],
    ]);
  });

  it("pass the database commands' arguments by name, progress as a Channel", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args as Record<string, unknown>]);
      return null;
    });
    const fields = { host: "h", port: 5432, database: "d", user: "u", tls: "prefer" as const, password: null, saved_password_of: null, pg_bin: null };
    const request = { snapshot_id: "s", target: fields, confirm_database: null, owner: null, no_owner: false, tables: [] };
    const onProgress = () => {};
    await api.databases();
    await api.testConnection(fields);
    await api.discoverDatabases({ fields, scope: { include: ["app_*"], exclude: [] } });
    await api.saveConnection({ name: "n", fields, replace: false, server: null });
    await api.removeConnection("n");
    await api.backupNow({ connection: "n", checkpoint_label: "l" }, 1, onProgress);
    await api.timeline("n");
    await api.snapshotDetail("s");
    await api.verifySnapshot("s", 2, onProgress);
    await api.restorePreflight(request);
    await api.restoreSnapshot(request, 3, onProgress);
    expect(calls.map(([cmd, args]) => [cmd, Object.keys(args ?? {})])).toEqual([
      ["databases", []],
      ["test_connection", ["fields"]],
      ["discover_databases", ["request"]],
      ["save_connection", ["request"]],
      ["remove_connection", ["name"]],
      ["backup_now", ["request", "job", "onProgress"]],
      ["timeline", ["name"]],
      ["snapshot_detail", ["id"]],
      ["verify_snapshot", ["id", "job", "onProgress"]],
      ["restore_preflight", ["request"]],
      ["restore_snapshot", ["request", "job", "onProgress"]],
    ]);
    expect(calls[5][1]).toMatchObject({ request: { connection: "n", checkpoint_label: "l" }, job: 1 });
    expect(calls[8][1]).toMatchObject({ id: "s", job: 2 });
    expect(calls[10][1]).toMatchObject({ request, job: 3 });
  });

  it("pass the schedule and drill commands' arguments by name", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args as Record<string, unknown>]);
      return null;
    });
    const policy = { ...KEEP_EVERYTHING, keep_last: 3, keep_daily: 7 };
    const form = { connection: "n", backup: "daily 02:30", retention: policy, stale_after_seconds: null, drill: null, drill_server: null, probes: [], heartbeat: null, base_backup: null, wal_stream: false };
    const request = { snapshot_id: "latest:n", server: "scratch", probes: [{ name: "users", sql: "select count(*) from users", expect: ">= 1" }], rehearse_major: null };
    const prefs = { failures: true, restores: true, staleness: true, successes: false };
    await api.schedules();
    await api.saveSchedule(form);
    await api.removeSchedule("n");
    await api.retentionPreview("n", policy);
    await api.drillSnapshot(request, 4, () => {});
    await api.drillHistory("n");
    await api.notificationPrefs();
    await api.setNotificationPrefs(prefs);
    expect(calls.map(([cmd, args]) => [cmd, Object.keys(args ?? {})])).toEqual([
      ["schedules", []],
      ["save_schedule", ["form"]],
      ["remove_schedule", ["connection"]],
      ["retention_preview", ["connection", "policy"]],
      ["drill_snapshot", ["request", "job", "onProgress"]],
      ["drill_history", ["connection"]],
      ["notification_prefs", []],
      ["set_notification_prefs", ["prefs"]],
    ]);
    expect(calls[1][1]).toEqual({ form });
    expect(calls[3][1]).toEqual({ connection: "n", policy });
    expect(calls[4][1]).toMatchObject({ request, job: 4 });
    expect(calls[7][1]).toEqual({ prefs });
  });

  it("know the restore's refusal", () => {
    expect(api.toApiError({ code: "restore_refused", message: "m" }).code).toBe("restore_refused");
  });

  it("reject with an ApiError", async () => {
    mockIPC(() => {
      throw { code: "no_repository_open", message: "no repository is open" };
    });
    await expect(api.keySlots()).rejects.toEqual({ code: "no_repository_open", message: "no repository is open" });
  });

  it("job ids are u32", () => {
    const id = api.newJobId();
    expect(Number.isInteger(id) && id >= 0 && id <= 0xffffffff).toBe(true);
  });
});

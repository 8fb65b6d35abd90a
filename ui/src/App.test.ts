import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import type { ActivityEntry, ActivityFilter, AppStatus, KeySlotInfo, RepositoryOverview, SnapshotDetail } from "./lib/bindings";
import { openRepository, REPO_ID, salesCard, salesTimeline, settle } from "./test/fixtures";

const baseStatus: AppStatus = {
  repository: null,
  needs_unlock: null,
  reopen_error: null,
  data_dir: "/home/ana/.local/share/lifeboat",
  log_file: "/home/ana/.local/state/lifeboat/lifeboat.log",
  home_dir: "/home/ana",
};

const overview: RepositoryOverview = {
  id: REPO_ID,
  location: "/mnt/nas/lifeboat",
  label: "Team NAS",
  created: "2025-03-01T10:00:00Z",
  format_version: 1,
  snapshots: 3,
  damaged_snapshots: 0,
  tags: [
    {
      tag: "mydb",
      snapshots: 2,
      latest: {
        id: "aa11bb22cc33dd44",
        short_id: "aa11bb22",
        tag: "mydb",
        kind: "checkpoint",
        label: "nightly",
        time: new Date(Date.now() - 3 * 3600_000).toISOString(),
        end: new Date(Date.now() - 3 * 3600_000 + 60_000).toISOString(),
        size: 512 * 1024 * 1024,
        sha256: "00",
        host: "db1",
        user: "postgres",
        generation: 1,
      },
    },
  ],
  logical_bytes: 3 * 1024 ** 3,
  stored_bytes: 1024 ** 3,
  packs: 40,
  dedup_ratio: 3.0,
  keychain: { state: "cached" },
};

const slots: KeySlotInfo[] = [
  { id: "slot-one-full-id", short_id: "slot-one", kind: "passphrase", label: "admin workstation", host: "ws1", user: "ana", created: "2025-03-01T10:00:00Z", in_use: true },
  { id: "slot-two-full-id", short_id: "slot-two", kind: "recovery_kit", label: "office safe", host: "ws1", user: "ana", created: "2025-03-02T10:00:00Z", in_use: false },
];

const entries: ActivityEntry[] = [
  { id: 1, kind: "open", status: "succeeded", repository_id: REPO_ID, started_at: "2025-03-01T10:00:00Z", finished_at: "2025-03-01T10:00:01Z", summary: "Opened repository", detail: null },
  { id: 2, kind: "check", status: "failed", repository_id: REPO_ID, started_at: "2025-03-02T10:00:00Z", finished_at: "2025-03-02T10:00:05Z", summary: "Check (structure): 1 problem found", detail: { errors: ["pack 1a2b is missing"] } },
];

type Handler = (args: unknown) => unknown;

function backend(status: AppStatus, overrides: Record<string, Handler> = {}) {
  const calls: { cmd: string; args: unknown }[] = [];
  const handlers: Record<string, Handler> = {
    app_status: () => status,
    repository_overview: () => overview,
    key_slots: () => slots,
    activity: () => entries,
    databases: () => [],
    close_repository: () => null,
    ...overrides,
  };
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    const handler = handlers[cmd];
    if (!handler) throw new Error(`unexpected ${cmd}`);
    return handler(args);
  });
  return calls;
}

function $(container: HTMLElement, selector: string) {
  const element = container.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

describe("App start", () => {
  it("shows first run without a repository", async () => {
    backend(baseStatus);
    const { container } = render(App);
    await settle();
    expect(container.querySelector("#first-run")).not.toBeNull();
    expect($(container, "#tab-create").getAttribute("aria-selected")).toBe("true");
    expect(container.querySelector("#unlock-notice")).toBeNull();
  });

  it("asks to unlock the last repository", async () => {
    backend({
      ...baseStatus,
      needs_unlock: { id: REPO_ID, location: "/mnt/nas/lifeboat", label: "", last_opened_at: "2025-03-01T10:00:00Z" },
      reopen_error: { code: "locked", message: "the keychain is locked" },
    });
    const { container } = render(App);
    await settle();
    expect($(container, "#unlock-notice").textContent).toContain("/mnt/nas/lifeboat");
    expect($(container, "#unlock-notice").textContent).toContain("the keychain is locked");
    expect(($(container, "#open-location") as HTMLInputElement).value).toBe("/mnt/nas/lifeboat");
  });

  it("shows why the app could not start", async () => {
    backend(baseStatus, {
      app_status: () => {
        throw { code: "other", message: "the app's catalog at /x cannot be used: disk I/O error" };
      },
    });
    const { container } = render(App);
    await settle();
    expect($(container, "#start-error").textContent).toContain("disk I/O error");
  });
});

describe("Main frame", () => {
  it("has its screens, the repository, and a dismissible keychain warning", async () => {
    backend({ ...baseStatus, repository: { ...openRepository, keychain_warning: "no Secret Service provider" } });
    const { container } = render(App);
    await settle();

    const nav = $(container, "nav");
    expect(Array.from(nav.querySelectorAll("li button")).map((b) => b.id)).toEqual([
      "nav-overview",
      "nav-connections",
      "nav-timeline",
      "nav-schedules",
      "nav-drills",
      "nav-restore",
      "nav-repository",
      "nav-activity",
    ]);
    expect($(container, "#nav-schedules").textContent?.trim()).toBe("Schedules");
    expect($(container, "#nav-drills").textContent?.trim()).toBe("Drills");
    expect($(container, "#current-repo").textContent).toContain("Team NAS");
    expect($(container, "#current-repo").textContent).toContain("/mnt/nas/lifeboat");

    expect($(container, "#keychain-warning").textContent).toContain("no Secret Service provider");
    await fireEvent.click($(container, "#keychain-warning-dismiss"));
    expect(container.querySelector("#keychain-warning")).toBeNull();

    // Overview: one card per tag.
    const card = $(container, ".tag-card");
    expect(card.textContent).toContain("mydb");
    expect(card.textContent).toContain("3 hours ago");
    expect(card.textContent).toContain("512 MiB");
    expect(card.textContent).toContain("Checkpoint");
    expect(card.textContent).toContain("nightly");
  });

  it("moves between screens with the arrow keys", async () => {
    backend({ ...baseStatus, repository: openRepository });
    const { container } = render(App);
    await settle();
    $(container, "#nav-overview").focus();
    await fireEvent.keyDown($(container, "#nav-overview"), { key: "ArrowDown" });
    await settle();
    expect(container.querySelector("#connections")).not.toBeNull();
    expect(document.activeElement?.id).toBe("nav-connections");
    expect($(container, "#nav-connections").getAttribute("aria-current")).toBe("page");
    await fireEvent.keyDown($(container, "#nav-connections"), { key: "End" });
    await settle();
    expect(container.querySelector("#activity")).not.toBeNull();
    await fireEvent.keyDown($(container, "#nav-activity"), { key: "ArrowUp" });
    await settle();
    expect(container.querySelector("#repository")).not.toBeNull();
    await fireEvent.keyDown($(container, "#nav-repository"), { key: "ArrowDown" });
    await fireEvent.keyDown($(container, "#nav-activity"), { key: "ArrowDown" });
    await settle();
    expect(container.querySelector("#overview")).not.toBeNull();
  });

  it("shows the empty overview", async () => {
    backend({ ...baseStatus, repository: openRepository }, { repository_overview: () => ({ ...overview, tags: [], snapshots: 0, dedup_ratio: null }) });
    const { container } = render(App);
    await settle();
    expect($(container, "#overview-empty").textContent).toContain("lifeboat put --tag");
  });

  it("shows the repository's figures and keys", async () => {
    backend({ ...baseStatus, repository: openRepository });
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-repository"));
    await settle();
    expect($(container, "#repo-location").textContent).toBe("/mnt/nas/lifeboat");
    expect($(container, "#repo-size").textContent).toBe("1.0 GiB");
    expect($(container, "#repo-snapshots").textContent).toBe("3");
    expect($(container, "#repo-dedup").textContent).toBe("3.0×");
    expect($(container, "#keychain-status").textContent).toContain(
      "Key cached in the OS keychain: this workstation opens the repository without asking",
    );
    expect(($(container, "#kit-path") as HTMLInputElement).value).toBe(`/home/ana/lifeboat-recovery-kit-${REPO_ID.slice(0, 8)}.txt`);
    const rows = container.querySelectorAll("#key-slots tbody tr");
    expect(rows).toHaveLength(2);
    expect($(container, 'tr[data-key-id="slot-one-full-id"]').textContent).toContain("this session");
    expect($(container, 'tr[data-key-id="slot-two-full-id"]').textContent).toContain("Recovery kit");
    expect($(container, 'tr[data-key-id="slot-two-full-id"]').textContent).not.toContain("this session");
  });

  it("confirms a key removal and shows the backend's refusal", async () => {
    const message = "cannot remove the last key slot: add another key first, or the repository could never be opened again";
    const calls = backend(
      { ...baseStatus, repository: openRepository },
      {
        remove_key: () => {
          throw { code: "invalid_input", message };
        },
      },
    );
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-repository"));
    await settle();

    await fireEvent.click($(container, 'tr[data-key-id="slot-one-full-id"] .key-remove'));
    await settle();
    const dialog = $(container, "#confirm-remove-key");
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.textContent).toContain("this session opened the repository with");
    expect(document.activeElement?.id).toBe("confirm-remove-key-cancel");

    // Escape closes without removing.
    await fireEvent.keyDown(window, { key: "Escape" });
    await settle();
    expect(container.querySelector("#confirm-remove-key")).toBeNull();
    expect(calls.some((c) => c.cmd === "remove_key")).toBe(false);

    await fireEvent.click($(container, 'tr[data-key-id="slot-one-full-id"] .key-remove'));
    await settle();
    await fireEvent.click($(container, "#confirm-remove-key-ok"));
    await settle();
    expect(calls.find((c) => c.cmd === "remove_key")?.args).toEqual({ id: "slot-one-full-id" });
    expect(container.querySelector("#confirm-remove-key")).toBeNull();
    expect($(container, "#key-remove-error").textContent).toContain(message);
  });

  it("adds a key and refreshes the table", async () => {
    let listed = 0;
    const calls = backend(
      { ...baseStatus, repository: openRepository },
      {
        key_slots: () => (listed++ === 0 ? slots : [...slots, { ...slots[1], id: "slot-three", short_id: "slot-thr", kind: "passphrase", label: "Maria", in_use: false }]),
        add_key: () => ({ ...slots[1], id: "slot-three", short_id: "slot-thr", kind: "passphrase", label: "Maria", in_use: false }),
      },
    );
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-repository"));
    await settle();
    await fireEvent.input($(container, "#key-add-label"), { target: { value: "Maria" } });
    await fireEvent.input($(container, "#key-add-passphrase"), { target: { value: "maria's long passphrase" } });
    await fireEvent.input($(container, "#key-add-passphrase-confirm"), { target: { value: "maria's long passphrase" } });
    await fireEvent.click($(container, "#key-add-submit"));
    await settle();
    expect(calls.find((c) => c.cmd === "add_key")?.args).toEqual({ request: { label: "Maria", passphrase: "maria's long passphrase" } });
    expect(container.querySelectorAll("#key-slots tbody tr")).toHaveLength(3);
  });

  it("prunes after confirmation", async () => {
    backend(
      { ...baseStatus, repository: openRepository },
      {
        prune_repository: () => ({ packs_before: 40, packs_removed: 3, packs_repacked: 1, leftover_packs_removed: 0, bytes_before: 1024 ** 3, bytes_freed: 96 * 1024 * 1024 }),
      },
    );
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-repository"));
    await settle();
    await fireEvent.click($(container, "#prune-start"));
    await settle();
    expect($(container, "#confirm-prune").textContent).toContain("no snapshot needs");
    await fireEvent.click($(container, "#confirm-prune-ok"));
    await settle();
    expect($(container, "#prune-result").textContent).toContain("Freed 96.0 MiB");
  });

  it("closes the repository and returns to first run", async () => {
    const calls = backend({ ...baseStatus, repository: openRepository });
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-repository"));
    await settle();
    await fireEvent.click($(container, "#close-repository"));
    await settle();
    expect(calls.some((c) => c.cmd === "close_repository")).toBe(true);
    expect(container.querySelector("#first-run")).not.toBeNull();
    expect(($(container, "#open-location") as HTMLInputElement).value).toBe("/mnt/nas/lifeboat");
  });

  it("lists activity, filters it, and expands a row", async () => {
    const calls = backend({ ...baseStatus, repository: openRepository });
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-activity"));
    await settle();

    const rows = Array.from(container.querySelectorAll<HTMLElement>(".activity-row"));
    expect(rows.map((r) => r.dataset.kind)).toEqual(["check", "open"]);
    expect(rows[0].dataset.status).toBe("failed");
    expect(rows[0].querySelector(".badge-danger")).not.toBeNull();
    expect(rows[1].querySelector(".badge-success")).not.toBeNull();

    await fireEvent.click(rows[0]);
    expect(rows[0].getAttribute("aria-expanded")).toBe("true");
    expect(container.querySelector(".activity-detail")?.textContent).toContain("pack 1a2b is missing");

    const select = $(container, "#activity-status") as HTMLSelectElement;
    select.value = "failed";
    await fireEvent.change(select);
    await settle();
    const filters = calls.filter((c) => c.cmd === "activity").map((c) => (c.args as { filter: ActivityFilter }).filter);
    expect(filters[0]).toEqual({ kinds: [], statuses: [], limit: 200 });
    expect(filters.at(-1)).toEqual({ kinds: [], statuses: ["failed"], limit: 200 });
  });

  it("says when there is no activity", async () => {
    backend({ ...baseStatus, repository: openRepository }, { activity: () => [] });
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#nav-activity"));
    await settle();
    expect($(container, "#activity-empty").textContent).toContain("No activity yet");
  });

  it("goes from a database card to its timeline, and from a snapshot to the restore wizard", async () => {
    const timeline = salesTimeline();
    backend(
      { ...baseStatus, repository: openRepository },
      {
        databases: () => [{ ...salesCard(), connection: { ...salesCard().connection, name: "other" } }, salesCard()],
        timeline: (args) => ((args as { name: string }).name === "sales" ? timeline : []),
        snapshot_detail: (args): SnapshotDetail => ({
          summary: timeline.find((e) => e.summary.id === (args as { id: string }).id)!.summary,
          verified: false,
          kept_forever: false,
          chunks: 1,
          postgres: null,
        }),
      },
    );
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, '.database-card[data-name="sales"] .timeline-button'));
    await settle();
    expect($(container, "#nav-timeline").getAttribute("aria-current")).toBe("page");
    expect(($(container, "#timeline-database") as HTMLSelectElement).value).toBe("sales");

    await fireEvent.click($(container, '.snapshot-row[data-id="1111aaaa2222bbbb"] button'));
    await settle();
    await fireEvent.click($(container, "#snapshot-restore"));
    await settle();
    expect($(container, "#nav-restore").getAttribute("aria-current")).toBe("page");
    expect(($(container, "#restore-database") as HTMLSelectElement).value).toBe("sales");
    expect(($(container, "#restore-snapshot") as HTMLSelectElement).value).toBe("1111aaaa2222bbbb");
  });

  it("goes from an empty overview to the Connections screen", async () => {
    backend({ ...baseStatus, repository: openRepository });
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#add-first-connection"));
    await settle();
    expect(container.querySelector("#connections")).not.toBeNull();
    expect($(container, "#connections-list").textContent).toContain("No saved connections yet");
  });

  it("cycles and saves the theme", async () => {
    backend(baseStatus);
    const { container } = render(App);
    await settle();
    await fireEvent.click($(container, "#theme-toggle"));
    expect(document.documentElement.dataset.theme).toBe("light");
    expect(localStorage.getItem("lifeboat.theme")).toBe("light");
    await fireEvent.click($(container, "#theme-toggle"));
    expect(document.documentElement.dataset.theme).toBe("dark");
    await fireEvent.click($(container, "#theme-toggle"));
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});

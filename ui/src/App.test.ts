import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import type { ActivityEntry, ActivityFilter, AppStatus, KeySlotInfo, RepositoryOverview, SnapshotDetail } from "./lib/bindings";
import { openRepository, REPO_ID, salesCard, salesTimeline } from "./test/fixtures";

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

/** Renders the app with a repository open: resolves with its main navigation once it shows. */
async function renderMain() {
  render(App);
  return screen.findByRole("navigation", { name: "Main" });
}

/** The main navigation's entry for a screen. */
const navItem = (name: string) => within(screen.getByRole("navigation", { name: "Main" })).getByRole("button", { name });

/** Goes to a screen with the navigation; resolves with the screen once it shows. */
async function goTo(name: string) {
  await fireEvent.click(navItem(name));
  return screen.findByRole("region", { name });
}

/** What a <dl> in `scope` says for `term`: the <dd> after its <dt>. */
const fact = (scope: HTMLElement, term: string) => within(scope).getByText(term).nextElementSibling as HTMLElement;

/** The key slots table's rows, its header's left out. */
function keyRows() {
  const table = within(screen.getByRole("region", { name: "Keys" })).getByRole("table");
  const [, body] = within(table).getAllByRole("rowgroup");
  return within(body).getAllByRole("row");
}

const firstRunTabs = () => screen.findByRole("tablist", { name: "Create or open a repository" });

describe("App start", () => {
  it("shows first run without a repository", async () => {
    backend(baseStatus);
    render(App);
    expect(await firstRunTabs()).toBeTruthy();
    expect(screen.getByRole("tab", { name: "Create new repository" }).getAttribute("aria-selected")).toBe("true");
    expect(screen.queryByText(/needs its passphrase or recovery kit/)).toBeNull();
  });

  it("asks to unlock the last repository", async () => {
    backend({
      ...baseStatus,
      needs_unlock: { id: REPO_ID, location: "/mnt/nas/lifeboat", label: "", last_opened_at: "2025-03-01T10:00:00Z" },
      reopen_error: { code: "locked", message: "the keychain is locked" },
    });
    render(App);
    const notice = await screen.findByRole("status");
    expect(notice.textContent).toContain("/mnt/nas/lifeboat");
    expect(notice.textContent).toContain("the keychain is locked");
    expect(screen.getByRole<HTMLInputElement>("textbox", { name: "Repository location" }).value).toBe("/mnt/nas/lifeboat");
  });

  it("shows why the app could not start", async () => {
    backend(baseStatus, {
      app_status: () => {
        throw { code: "other", message: "the app's catalog at /x cannot be used: disk I/O error" };
      },
    });
    render(App);
    expect((await screen.findByRole("alert")).textContent).toContain("disk I/O error");
  });
});

describe("Main frame", () => {
  it("has its screens, the repository, and a dismissible keychain warning", async () => {
    backend({ ...baseStatus, repository: { ...openRepository, keychain_warning: "no Secret Service provider" } });
    const nav = await renderMain();

    expect(within(nav).getAllByRole("button").map((b) => b.textContent?.trim())).toEqual([
      "Overview",
      "Connections",
      "Timeline",
      "Schedules",
      "Drills",
      "Restore",
      "Point in time",
      "Repository & keys",
      "Activity",
    ]);
    expect(navItem("Schedules").textContent?.trim()).toBe("Schedules");
    expect(navItem("Drills").textContent?.trim()).toBe("Drills");
    // The header shows the open repository, its location as the tooltip.
    const current = screen.getByTitle("/mnt/nas/lifeboat");
    expect(current.textContent).toContain("Team NAS");
    expect(current.textContent).toContain("/mnt/nas/lifeboat");

    expect(screen.getByRole("alert").textContent).toContain("no Secret Service provider");
    await fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByText(/no Secret Service provider/)).toBeNull();

    // Overview: one card per tag.
    const [card] = within(await screen.findByRole("list", { name: "Snapshot streams" })).getAllByRole("listitem");
    expect(card.textContent).toContain("mydb");
    expect(card.textContent).toContain("3 hours ago");
    expect(card.textContent).toContain("512 MiB");
    expect(card.textContent).toContain("Checkpoint");
    expect(card.textContent).toContain("nightly");
  });

  it("moves between screens with the arrow keys", async () => {
    backend({ ...baseStatus, repository: openRepository });
    await renderMain();
    navItem("Overview").focus();
    await fireEvent.keyDown(navItem("Overview"), { key: "ArrowDown" });
    expect(await screen.findByRole("region", { name: "Connections" })).toBeTruthy();
    expect(document.activeElement).toBe(navItem("Connections"));
    expect(navItem("Connections").getAttribute("aria-current")).toBe("page");
    await fireEvent.keyDown(navItem("Connections"), { key: "End" });
    expect(await screen.findByRole("region", { name: "Activity" })).toBeTruthy();
    await fireEvent.keyDown(navItem("Activity"), { key: "ArrowUp" });
    expect(await screen.findByRole("region", { name: "Repository & keys" })).toBeTruthy();
    await fireEvent.keyDown(navItem("Repository & keys"), { key: "ArrowDown" });
    await fireEvent.keyDown(navItem("Activity"), { key: "ArrowDown" });
    expect(await screen.findByRole("region", { name: "Overview" })).toBeTruthy();
  });

  it("shows the empty overview", async () => {
    backend({ ...baseStatus, repository: openRepository }, { repository_overview: () => ({ ...overview, tags: [], snapshots: 0, dedup_ratio: null }) });
    await renderMain();
    await screen.findByRole("heading", { name: "No backups yet" });
    expect(screen.getByText(/lifeboat put --tag/)).toBeTruthy();
  });

  it("shows the repository's figures and keys", async () => {
    backend({ ...baseStatus, repository: openRepository });
    await renderMain();
    await goTo("Repository & keys");
    const details = screen.getByRole("region", { name: "Repository" });
    await within(details).findByText("Stored on disk");
    expect(fact(details, "Location").textContent).toBe("/mnt/nas/lifeboat");
    expect(fact(details, "Stored on disk").textContent).toBe("1.0 GiB");
    expect(fact(details, "Snapshots").textContent).toBe("3");
    expect(fact(details, "Deduplication").textContent).toBe("3.0×");
    expect(screen.getByText(/Key cached in the OS keychain: this workstation opens the repository without asking/)).toBeTruthy();
    expect(screen.getByRole<HTMLInputElement>("textbox", { name: "Save to" }).value).toBe(`/home/ana/lifeboat-recovery-kit-${REPO_ID.slice(0, 8)}.txt`);
    await waitFor(() => expect(keyRows()).toHaveLength(2));
    expect(screen.getByRole("row", { name: /slot-one/ }).textContent).toContain("this session");
    expect(screen.getByRole("row", { name: /slot-two/ }).textContent).toContain("Recovery kit");
    expect(screen.getByRole("row", { name: /slot-two/ }).textContent).not.toContain("this session");
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
    await renderMain();
    await goTo("Repository & keys");
    const removeButton = () => screen.findByRole("button", { name: "Remove key slot-one (admin workstation)" });

    await fireEvent.click(await removeButton());
    const dialog = await screen.findByRole("dialog", { name: "Remove this key?" });
    expect(dialog.textContent).toContain("this session opened the repository with");
    await waitFor(() => expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" })));

    // Escape closes without removing.
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.some((c) => c.cmd === "remove_key")).toBe(false);

    await fireEvent.click(await removeButton());
    await fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Remove key" }));
    expect((await screen.findByRole("alert")).textContent).toContain(message);
    expect(calls.find((c) => c.cmd === "remove_key")?.args).toEqual({ id: "slot-one-full-id" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
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
    await renderMain();
    await goTo("Repository & keys");
    await waitFor(() => expect(keyRows()).toHaveLength(2));
    const form = within(screen.getByRole("form", { name: "Add a passphrase" }));
    await fireEvent.input(form.getByRole("textbox", { name: "Key label" }), { target: { value: "Maria" } });
    await fireEvent.input(form.getByLabelText("New passphrase"), { target: { value: "maria's long passphrase" } });
    await fireEvent.input(form.getByLabelText("Repeat passphrase"), { target: { value: "maria's long passphrase" } });
    await fireEvent.click(form.getByRole("button", { name: "Add key" }));
    await waitFor(() => expect(keyRows()).toHaveLength(3));
    expect(calls.find((c) => c.cmd === "add_key")?.args).toEqual({ request: { label: "Maria", passphrase: "maria's long passphrase" } });
  });

  it("prunes after confirmation", async () => {
    backend(
      { ...baseStatus, repository: openRepository },
      {
        prune_repository: () => ({ packs_before: 40, packs_removed: 3, packs_repacked: 1, leftover_packs_removed: 0, bytes_before: 1024 ** 3, bytes_freed: 96 * 1024 * 1024 }),
      },
    );
    await renderMain();
    await goTo("Repository & keys");
    await fireEvent.click(screen.getByRole("button", { name: "Prune…" }));
    const dialog = await screen.findByRole("dialog", { name: "Prune the repository?" });
    expect(dialog.textContent).toContain("no snapshot needs");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Prune" }));
    expect(await screen.findByText("Freed 96.0 MiB")).toBeTruthy();
  });

  it("closes the repository and returns to first run", async () => {
    const calls = backend({ ...baseStatus, repository: openRepository });
    await renderMain();
    await goTo("Repository & keys");
    await fireEvent.click(screen.getByRole("button", { name: "Close repository" }));
    expect(await firstRunTabs()).toBeTruthy();
    expect(calls.some((c) => c.cmd === "close_repository")).toBe(true);
    expect(screen.getByRole<HTMLInputElement>("textbox", { name: "Repository location" }).value).toBe("/mnt/nas/lifeboat");
  });

  it("lists activity, filters it, and expands a row", async () => {
    const calls = backend({ ...baseStatus, repository: openRepository });
    await renderMain();
    const activity = await goTo("Activity");

    const rows = within(await within(activity).findByRole("list")).getAllByRole("button");
    expect(rows.map((r) => r.dataset.kind)).toEqual(["check", "open"]);
    expect(rows[0].dataset.status).toBe("failed");
    // The status badges' tone is their class.
    expect(within(rows[0]).getByText("Failed").classList.contains("badge-danger")).toBe(true);
    expect(within(rows[1]).getByText("Succeeded").classList.contains("badge-success")).toBe(true);

    await fireEvent.click(rows[0]);
    expect(rows[0].getAttribute("aria-expanded")).toBe("true");
    expect(screen.getByText(/pack 1a2b is missing/)).toBeTruthy();

    await fireEvent.change(screen.getByRole("combobox", { name: "Status" }), { target: { value: "failed" } });
    const filters = () => calls.filter((c) => c.cmd === "activity").map((c) => (c.args as { filter: ActivityFilter }).filter);
    await waitFor(() => expect(filters().at(-1)).toEqual({ kinds: [], statuses: ["failed"], limit: 200 }));
    expect(filters()[0]).toEqual({ kinds: [], statuses: [], limit: 200 });
  });

  it("says when there is no activity", async () => {
    backend({ ...baseStatus, repository: openRepository }, { activity: () => [] });
    await renderMain();
    await goTo("Activity");
    expect(await screen.findByText(/No activity yet/)).toBeTruthy();
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
          server_databases: [],
          chunks: 1,
          postgres: null,
        }),
      },
    );
    await renderMain();
    await fireEvent.click(await screen.findByRole("button", { name: "Timeline of sales" }));
    const snapshots = await screen.findByRole("list", { name: "Snapshots of sales, newest first" });
    expect(navItem("Timeline").getAttribute("aria-current")).toBe("page");
    expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "Database" }).value).toBe("sales");

    await fireEvent.click(within(snapshots).getByRole("button", { name: /Manual/ }));
    await fireEvent.click(await screen.findByRole("button", { name: "Restore…" }));
    await screen.findByRole("region", { name: "Restore" });
    expect(navItem("Restore").getAttribute("aria-current")).toBe("page");
    await waitFor(() => expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "Snapshot" }).value).toBe("1111aaaa2222bbbb"));
    expect(screen.getByRole<HTMLSelectElement>("combobox", { name: "Database" }).value).toBe("sales");
  });

  it("goes from an empty overview to the Connections screen", async () => {
    backend({ ...baseStatus, repository: openRepository });
    await renderMain();
    await fireEvent.click(await screen.findByRole("button", { name: "Add a connection" }));
    const connections = await screen.findByRole("region", { name: "Connections" });
    expect(await within(connections).findByText(/No saved connections yet/)).toBeTruthy();
  });

  it("cycles and saves the theme", async () => {
    backend(baseStatus);
    render(App);
    const toggle = await screen.findByRole("button", { name: /^Theme:/ });
    await fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBe("light");
    expect(localStorage.getItem("lifeboat.theme")).toBe("light");
    await fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBe("dark");
    await fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});

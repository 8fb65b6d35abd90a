import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { ConnectionCheck, ConnectionFields, DatabaseCard, SaveConnectionRequest } from "../lib/bindings";
import { salesCard, salesConnection } from "../test/fixtures";
import Connections from "./Connections.svelte";

const check: ConnectionCheck = {
  url: "postgres://app@db1.example:5432/sales",
  server_version: "16.4",
  server_major: 16,
  database_size: 5 * 1024 * 1024,
  database_exists: true,
  database_empty: false,
  extensions: ["plpgsql", "pg_trgm"],
  pg_dump: "pg_dump 16.4 in /usr/lib/postgresql/16/bin",
  pg_dump_problem: null,
};

function mockBackend(initial: DatabaseCard[] = [salesCard()], result: ConnectionCheck = check) {
  let cards = initial;
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: args as Record<string, unknown> });
    switch (cmd) {
      case "databases":
        return cards;
      case "test_connection":
        return result;
      case "discover_databases":
        return { backed_up: ["app", "metrics"], left_out: ["app_staging"] };
      case "save_connection": {
        const { request } = args as { request: SaveConnectionRequest };
        const connection = { ...salesConnection, ...request.fields, name: request.name, server: request.server ?? undefined };
        cards = [...cards.filter((c) => c.connection.name !== request.name), { ...salesCard(), connection, url: "postgres://x", last_backup: null, snapshot_count: 0 }];
        return connection;
      }
      case "remove_connection":
        cards = cards.filter((c) => c.connection.name !== (args as { name: string }).name);
        return salesConnection;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  return calls;
}

/** Renders the screen once its list of saved connections has loaded. */
async function renderLoaded() {
  render(Connections);
  await screen.findByRole("list");
}

const savedList = () => within(screen.getByRole("region", { name: "Saved connections" })).getByRole("list");

/** The saved connection's row: the list item that shows its name. */
function row(name: string): HTMLElement {
  const item = within(savedList())
    .getAllByRole("listitem")
    .find((li) => within(li).queryByText(name) !== null);
  if (!item) throw new Error(`no row for ${name}`);
  return item;
}

const field = (name: string) => screen.getByRole<HTMLInputElement>("textbox", { name });
const urlField = () => field("Database URL (optional)");
const passwordField = () => screen.getByLabelText<HTMLInputElement>("Password");
const tlsSelect = () => screen.getByRole<HTMLSelectElement>("combobox", { name: "TLS" });

async function type(element: HTMLElement, text: string) {
  await fireEvent.input(element, { target: { value: text } });
}

describe("Connections", () => {
  it("lists the saved connections", async () => {
    mockBackend();
    await renderLoaded();
    const sales = row("sales");
    expect(sales.textContent).toContain("postgres://app@db1.example:5432/sales");
    expect(sales.textContent).toContain("password in keychain");
    expect(within(sales).getByRole("button", { name: "Test sales" })).toBeTruthy();
    expect(within(sales).getByRole("button", { name: "Edit sales" })).toBeTruthy();
    expect(within(sales).getByRole("button", { name: "Remove sales" })).toBeTruthy();
  });

  it("says when there are none", async () => {
    mockBackend([]);
    await renderLoaded();
    expect(savedList().textContent).toContain("No saved connections yet");
  });

  it("fills the fields from a pasted URL, and says what is wrong with a bad one", async () => {
    mockBackend();
    await renderLoaded();
    await type(urlField(), "postgres://app%40corp:s3cret@[::1]:6543/orders?sslmode=require");
    expect(field("Host").value).toBe("::1");
    expect(field("Port").value).toBe("6543");
    expect(field("Database").value).toBe("orders");
    expect(field("User").value).toBe("app@corp");
    expect(passwordField().value).toBe("s3cret");
    expect(tlsSelect().value).toBe("require");
    expect(passwordField().getAttribute("type")).toBe("password");

    await type(urlField(), "mysql://nope");
    // The hint under the field is its description: it says what a URL looks like.
    const url = screen.getByRole("textbox", { name: "Database URL (optional)", description: /postgres:\/\// });
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect(field("Host").value).toBe("::1");
  });

  it("tests the form's fields and shows what it found", async () => {
    const calls = mockBackend();
    await renderLoaded();
    expect(tlsSelect().value).toBe("prefer");
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/host name/);
    expect(document.activeElement).toBe(field("Host"));
    expect(calls.some((c) => c.cmd === "test_connection")).toBe(false);

    await type(urlField(), "postgres://app@db1.example/sales");
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    const panel = await screen.findByRole("status");
    expect(calls.find((c) => c.cmd === "test_connection")?.args).toEqual({
      fields: { host: "db1.example", port: 5432, database: "sales", user: "app", tls: "prefer", password: null, saved_password_of: null, pg_bin: null },
    });
    expect(panel.textContent).toContain("PostgreSQL 16.4");
    expect(panel.textContent).toContain("5.0 MiB");
    expect(panel.textContent).toContain("has data");
    expect(panel.textContent).toContain("pg_trgm");
    expect(panel.textContent).toContain("Backups will use pg_dump 16.4 in /usr/lib/postgresql/16/bin");
  });

  it("warns when no fitting pg_dump is found", async () => {
    mockBackend([], { ...check, database_exists: false, pg_dump: null, pg_dump_problem: "no pg_dump 17 found: install postgresql-client-17" });
    await renderLoaded();
    await type(urlField(), "postgres://app@db1.example/sales");
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    const panel = await screen.findByRole("status");
    expect(panel.textContent).toContain("does not exist yet");
    expect(within(panel).getByText(/install postgresql-client-17/)).toBeTruthy();
  });

  it("saves a new connection, then lists it and clears the form", async () => {
    const calls = mockBackend([]);
    await renderLoaded();
    await type(field("Name"), "orders");
    await type(field("Host"), "db2");
    await type(field("Database"), "orders");
    await type(field("User"), "app");
    await type(passwordField(), "pw");
    await type(field("Client tools folder (optional)"), "/usr/lib/postgresql/17/bin");
    await fireEvent.click(screen.getByRole("button", { name: "Save connection" }));
    expect((await screen.findByRole("status")).textContent).toContain("orders");
    expect(calls.find((c) => c.cmd === "save_connection")?.args).toEqual({
      request: {
        name: "orders",
        fields: { host: "db2", port: 5432, database: "orders", user: "app", tls: "prefer", password: "pw", saved_password_of: null, pg_bin: "/usr/lib/postgresql/17/bin" },
        replace: false,
        server: null,
      },
    });
    expect(await screen.findByRole("button", { name: "Edit orders" })).toBeTruthy();
    expect(field("Name").value).toBe("");
    expect(passwordField().value).toBe("");
  });

  it("adds a whole server: a URL without a database, patterns, what a test finds, the scope saved", async () => {
    const calls = mockBackend([]);
    await renderLoaded();
    await fireEvent.click(screen.getByRole("radio", { name: /A whole server/ }));
    expect(field("Connect through database").value).toBe("postgres");
    await type(field("Name"), "prod");
    await type(field("Server URL (optional)"), "postgres://admin@db3:5433");
    expect(field("Port").value).toBe("5433");
    expect(field("Connect through database").value).toBe("postgres");
    await type(field("Leave out databases matching (optional)"), "*_staging, tmp");

    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    const found = await screen.findByText(/Backed up:/);
    expect(found.parentElement?.textContent).toContain("app, metrics");
    expect(found.parentElement?.parentElement?.textContent).toContain("Left out: app_staging");
    expect(calls.find((c) => c.cmd === "discover_databases")?.args).toMatchObject({
      request: { fields: { host: "db3", port: 5433, database: "postgres", user: "admin" }, scope: { include: [], exclude: ["*_staging", "tmp"] } },
    });

    const saveButton = screen.getByRole<HTMLButtonElement>("button", { name: "Save connection" });
    await waitFor(() => expect(saveButton.disabled).toBe(false));
    await fireEvent.click(saveButton);
    await screen.findByRole("button", { name: "Edit prod" });
    expect(calls.find((c) => c.cmd === "save_connection")?.args).toMatchObject({
      request: { name: "prod", server: { include: [], exclude: ["*_staging", "tmp"] } },
    });
    expect(row("prod").textContent).toContain("whole server, except *_staging, tmp");

    // Editing keeps it a server, its patterns in the fields.
    await fireEvent.click(within(row("prod")).getByRole("button", { name: "Edit prod" }));
    expect(screen.getByRole<HTMLInputElement>("radio", { name: /A whole server/ }).checked).toBe(true);
    expect(field("Leave out databases matching (optional)").value).toBe("*_staging, tmp");
  });

  it("edits a connection, keeping its saved password when none is typed", async () => {
    const calls = mockBackend();
    await renderLoaded();
    await fireEvent.click(within(row("sales")).getByRole("button", { name: "Edit sales" }));
    await screen.findByRole("heading", { name: "Edit sales" });
    expect(field("Name").value).toBe("sales");
    expect(field("Name").readOnly).toBe(true);
    expect(field("Host").value).toBe("db1.example");
    expect(screen.getByText(/blank to keep the saved one/)).toBeTruthy();

    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    await screen.findByRole("status");
    expect((calls.find((c) => c.cmd === "test_connection")?.args.fields as ConnectionFields).saved_password_of).toBe("sales");

    await type(field("Port"), "6432");
    await fireEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await screen.findByText(/Saved connection/);
    const request = calls.find((c) => c.cmd === "save_connection")?.args.request as SaveConnectionRequest;
    expect(request.replace).toBe(true);
    expect(request.fields.port).toBe(6432);
    expect(request.fields.password).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel editing" })).toBeNull();
  });

  it("tests a saved connection with its keychain password", async () => {
    const calls = mockBackend();
    await renderLoaded();
    await fireEvent.click(within(row("sales")).getByRole("button", { name: "Test sales" }));
    const panel = await screen.findByRole("status");
    expect(calls.find((c) => c.cmd === "test_connection")?.args.fields).toMatchObject({ host: "db1.example", saved_password_of: "sales", password: null });
    expect(panel.textContent).toContain("PostgreSQL 16.4");
  });

  it("removes a connection after confirmation", async () => {
    const calls = mockBackend();
    await renderLoaded();
    await fireEvent.click(within(row("sales")).getByRole("button", { name: "Remove sales" }));
    const dialog = await screen.findByRole("dialog", { name: "Remove this connection?" });
    expect(dialog.textContent).toContain("2 snapshots stay");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Remove connection" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.find((c) => c.cmd === "remove_connection")?.args).toEqual({ name: "sales" });
    await screen.findByText(/No saved connections yet/);
    expect(screen.queryByRole("button", { name: /^Edit / })).toBeNull();
  });
});

import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { ConnectionCheck, ConnectionFields, DatabaseCard, SaveConnectionRequest } from "../lib/bindings";
import { salesCard, salesConnection, settle } from "../test/fixtures";
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
      case "save_connection": {
        const { request } = args as { request: SaveConnectionRequest };
        const connection = { ...salesConnection, ...request.fields, name: request.name };
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

function $<T extends HTMLElement = HTMLElement>(container: HTMLElement, selector: string) {
  const element = container.querySelector<T>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

const value = (container: HTMLElement, selector: string) => $<HTMLInputElement>(container, selector).value;

async function type(container: HTMLElement, selector: string, text: string) {
  await fireEvent.input($(container, selector), { target: { value: text } });
}

describe("Connections", () => {
  it("lists the saved connections", async () => {
    mockBackend();
    const { container } = render(Connections);
    await settle();
    const row = $(container, '#connections-list .connection-row[data-name="sales"]');
    expect(row.textContent).toContain("postgres://app@db1.example:5432/sales");
    expect(row.textContent).toContain("password in keychain");
    expect(row.querySelector(".connection-test")).not.toBeNull();
    expect(row.querySelector(".connection-edit")).not.toBeNull();
    expect(row.querySelector(".connection-remove")).not.toBeNull();
  });

  it("says when there are none", async () => {
    mockBackend([]);
    const { container } = render(Connections);
    await settle();
    expect($(container, "#connections-list").textContent).toContain("No saved connections yet");
  });

  it("fills the fields from a pasted URL, and says what is wrong with a bad one", async () => {
    mockBackend();
    const { container } = render(Connections);
    await settle();
    await type(container, "#conn-url", "postgres://app%40corp:s3cret@[::1]:6543/orders?sslmode=require");
    expect(value(container, "#conn-host")).toBe("::1");
    expect(value(container, "#conn-port")).toBe("6543");
    expect(value(container, "#conn-database")).toBe("orders");
    expect(value(container, "#conn-user")).toBe("app@corp");
    expect(value(container, "#conn-password")).toBe("s3cret");
    expect($<HTMLSelectElement>(container, "#conn-tls").value).toBe("require");
    expect($(container, "#conn-password").getAttribute("type")).toBe("password");

    await type(container, "#conn-url", "mysql://nope");
    expect($(container, "#conn-url").getAttribute("aria-invalid")).toBe("true");
    expect($(container, "#conn-url-hint").textContent).toMatch(/postgres:\/\//);
    expect(value(container, "#conn-host")).toBe("::1");
  });

  it("tests the form's fields and shows what it found", async () => {
    const calls = mockBackend();
    const { container } = render(Connections);
    await settle();
    expect($<HTMLSelectElement>(container, "#conn-tls").value).toBe("prefer");
    await fireEvent.click($(container, "#conn-test"));
    await settle();
    expect($(container, "#conn-error").textContent).toMatch(/host name/);
    expect(document.activeElement?.id).toBe("conn-host");
    expect(calls.some((c) => c.cmd === "test_connection")).toBe(false);

    await type(container, "#conn-url", "postgres://app@db1.example/sales");
    await fireEvent.click($(container, "#conn-test"));
    await settle();
    expect(calls.find((c) => c.cmd === "test_connection")?.args).toEqual({
      fields: { host: "db1.example", port: 5432, database: "sales", user: "app", tls: "prefer", password: null, saved_password_of: null, pg_bin: null },
    });
    const panel = $(container, "#conn-check");
    expect(panel.textContent).toContain("PostgreSQL 16.4");
    expect(panel.textContent).toContain("5.0 MiB");
    expect(panel.textContent).toContain("has data");
    expect(panel.textContent).toContain("pg_trgm");
    expect(panel.textContent).toContain("Backups will use pg_dump 16.4 in /usr/lib/postgresql/16/bin");
  });

  it("warns when no fitting pg_dump is found", async () => {
    mockBackend([], { ...check, database_exists: false, pg_dump: null, pg_dump_problem: "no pg_dump 17 found: install postgresql-client-17" });
    const { container } = render(Connections);
    await settle();
    await type(container, "#conn-url", "postgres://app@db1.example/sales");
    await fireEvent.click($(container, "#conn-test"));
    await settle();
    expect($(container, "#conn-check").textContent).toContain("does not exist yet");
    expect($(container, "#conn-check .alert-warning").textContent).toContain("install postgresql-client-17");
  });

  it("saves a new connection, then lists it and clears the form", async () => {
    const calls = mockBackend([]);
    const { container } = render(Connections);
    await settle();
    await type(container, "#conn-name", "orders");
    await type(container, "#conn-host", "db2");
    await type(container, "#conn-database", "orders");
    await type(container, "#conn-user", "app");
    await type(container, "#conn-password", "pw");
    await type(container, "#conn-pgbin", "/usr/lib/postgresql/17/bin");
    await fireEvent.click($(container, "#conn-save"));
    await settle();
    expect(calls.find((c) => c.cmd === "save_connection")?.args).toEqual({
      request: {
        name: "orders",
        fields: { host: "db2", port: 5432, database: "orders", user: "app", tls: "prefer", password: "pw", saved_password_of: null, pg_bin: "/usr/lib/postgresql/17/bin" },
        replace: false,
      },
    });
    expect($(container, "#conn-saved").textContent).toContain("orders");
    expect(container.querySelector('.connection-row[data-name="orders"]')).not.toBeNull();
    expect(value(container, "#conn-name")).toBe("");
    expect(value(container, "#conn-password")).toBe("");
  });

  it("edits a connection, keeping its saved password when none is typed", async () => {
    const calls = mockBackend();
    const { container } = render(Connections);
    await settle();
    await fireEvent.click($(container, '.connection-row[data-name="sales"] .connection-edit'));
    await settle();
    expect(value(container, "#conn-name")).toBe("sales");
    expect($<HTMLInputElement>(container, "#conn-name").readOnly).toBe(true);
    expect(value(container, "#conn-host")).toBe("db1.example");
    expect($(container, "#conn-password-hint").textContent).toContain("blank to keep the saved one");

    await fireEvent.click($(container, "#conn-test"));
    await settle();
    expect((calls.find((c) => c.cmd === "test_connection")?.args.fields as ConnectionFields).saved_password_of).toBe("sales");

    await type(container, "#conn-port", "6432");
    await fireEvent.click($(container, "#conn-save"));
    await settle();
    const request = calls.find((c) => c.cmd === "save_connection")?.args.request as SaveConnectionRequest;
    expect(request.replace).toBe(true);
    expect(request.fields.port).toBe(6432);
    expect(request.fields.password).toBeNull();
    expect(container.querySelector("#conn-cancel-edit")).toBeNull();
  });

  it("tests a saved connection with its keychain password", async () => {
    const calls = mockBackend();
    const { container } = render(Connections);
    await settle();
    await fireEvent.click($(container, '.connection-row[data-name="sales"] .connection-test'));
    await settle();
    expect(calls.find((c) => c.cmd === "test_connection")?.args.fields).toMatchObject({ host: "db1.example", saved_password_of: "sales", password: null });
    expect($(container, "#conn-check").textContent).toContain("PostgreSQL 16.4");
  });

  it("removes a connection after confirmation", async () => {
    const calls = mockBackend();
    const { container } = render(Connections);
    await settle();
    await fireEvent.click($(container, '.connection-row[data-name="sales"] .connection-remove'));
    await settle();
    expect($(container, "#remove-connection").textContent).toContain("2 snapshots stay");
    await fireEvent.click($(container, "#remove-connection-ok"));
    await settle();
    expect(calls.find((c) => c.cmd === "remove_connection")?.args).toEqual({ name: "sales" });
    expect(container.querySelector("#remove-connection")).toBeNull();
    expect(container.querySelector(".connection-row")).toBeNull();
  });
});

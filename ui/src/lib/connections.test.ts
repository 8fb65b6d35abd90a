import { describe, expect, it } from "vitest";
import type { Connection } from "./bindings";
import {
  connectionFields,
  emptyServerForm,
  parseDatabaseUrl,
  parsePatterns,
  parsePort,
  serverFormOf,
  serverScope,
  validateConnection,
  validateServerForm,
  withUrl,
} from "./connections";

describe("local connections", () => {
  it("take libpq's host, port and user parameters: a socket folder for the host", () => {
    expect(parseDatabaseUrl("postgres:///shop?host=/var/run/postgresql")).toMatchObject({ url: { host: "/var/run/postgresql", port: 5432, database: "shop" } });
    expect(parseDatabaseUrl("postgres://app@db1/shop?host=%2Ftmp&port=5433&user=postgres")).toMatchObject({
      url: { host: "/tmp", port: 5433, user: "postgres" },
    });
  });
});

describe("server connections", () => {
  it("take a URL without a database, connecting through the maintenance database", () => {
    expect(parseDatabaseUrl("postgres://admin@db3:5433")).toMatchObject({ error: expect.stringMatching(/name the database/) });
    expect(parseDatabaseUrl("postgres://admin@db3:5433", true)).toMatchObject({ url: { host: "db3", port: 5433, database: "postgres" } });
    expect(parseDatabaseUrl("postgres://admin@db3/template1", true)).toMatchObject({ url: { database: "template1" } });
  });

  it("read patterns separated by commas or spaces", () => {
    expect(parsePatterns(" app_*, metrics  reports,,")).toEqual(["app_*", "metrics", "reports"]);
    expect(serverScope("", "*_staging")).toEqual({ include: [], exclude: ["*_staging"] });
  });
});

describe("parseDatabaseUrl", () => {
  it("reads every part", () => {
    expect(parseDatabaseUrl("postgres://app:secret@db.example:6543/sales?sslmode=require")).toEqual({
      url: { host: "db.example", port: 6543, database: "sales", user: "app", password: "secret", tls: "require" },
    });
  });

  it("takes the defaults for what is left out", () => {
    expect(parseDatabaseUrl("postgresql://db.example/sales")).toEqual({
      url: { host: "db.example", port: 5432, database: "sales", user: "", password: null, tls: "prefer" },
    });
    expect(parseDatabaseUrl("postgres:///sales")).toMatchObject({ url: { host: "localhost", port: 5432 } });
  });

  it("reads IPv6 addresses in brackets", () => {
    expect(parseDatabaseUrl("postgres://me@[::1]:5433/db")).toMatchObject({ url: { host: "::1", port: 5433, user: "me" } });
    expect(parseDatabaseUrl("postgres://me@[fe80::1]/db")).toMatchObject({ url: { host: "fe80::1", port: 5432 } });
  });

  it("percent-decodes the user, password and database", () => {
    expect(parseDatabaseUrl("postgres://app%40corp:s%3Acret%2F@db:5432/my%20db")).toMatchObject({
      url: { user: "app@corp", password: "s:cret/", database: "my db" },
    });
  });

  it("keeps an empty password apart from none", () => {
    expect(parseDatabaseUrl("postgres://app:@db/x")).toMatchObject({ url: { password: "" } });
    expect(parseDatabaseUrl("postgres://app@db/x")).toMatchObject({ url: { password: null } });
  });

  it("says what is wrong with a bad URL", () => {
    const error = (text: string) => {
      const parsed = parseDatabaseUrl(text);
      return "error" in parsed ? parsed.error : null;
    };
    expect(error("mysql://db/x")).toMatch(/postgres:\/\//);
    expect(error("db.example:5432/sales")).toMatch(/postgres:\/\//);
    expect(error("postgres://db.example:5432")).toMatch(/name the database/);
    expect(error("postgres://db.example:99999/x")).toMatch(/port “99999”/);
    expect(error("postgres://db.example:abc/x")).toMatch(/port “abc”/);
    expect(error("postgres://[::1/x")).toMatch(/closing \]/);
    expect(error("postgres://u%zz@db/x")).toMatch(/%-escape/);
    expect(error("postgres://db/x?sslmode=sometimes")).toMatch(/sslmode “sometimes”/);
    expect(error("postgres://db/x?connect_timeout=5")).toMatch(/“connect_timeout” is not supported/);
    expect(error("postgres:///x?service=prod")).toMatch(/pg_service.conf/);
    expect(error("postgres:///x?host=/run/pg&port=nope")).toMatch(/port “nope”/);
    expect(error("postgres://db/x?sslmode=toString")).toMatch(/sslmode/);
  });
});

describe("server forms", () => {
  const valid = { ...emptyServerForm(), host: "db.example", database: "sales", user: "app" };

  it("start with libpq's defaults", () => {
    expect(emptyServerForm()).toMatchObject({ port: "5432", tls: "prefer", password: "" });
  });

  it("take a URL's parts, keeping a typed password when the URL has none", () => {
    const parsed = parseDatabaseUrl("postgres://u@h:1/d?sslmode=disable");
    if (!("url" in parsed)) throw new Error("parse failed");
    expect(withUrl({ ...valid, password: "typed", pgBin: "/opt/pg/bin" }, parsed.url)).toEqual({
      host: "h",
      port: "1",
      database: "d",
      user: "u",
      tls: "disable",
      password: "typed",
      pgBin: "/opt/pg/bin",
    });
  });

  it("name the first field to fix", () => {
    expect(validateServerForm(valid)).toBeNull();
    expect(validateServerForm({ ...valid, host: " " })?.field).toBe("host");
    expect(validateServerForm({ ...valid, port: "0" })?.field).toBe("port");
    expect(validateServerForm({ ...valid, database: "" })?.field).toBe("database");
    expect(validateServerForm({ ...valid, user: "" })?.field).toBe("user");
    expect(validateConnection("", valid)?.field).toBe("name");
    expect(validateConnection("sales", valid)).toBeNull();
    expect(validateConnection("prod", { ...valid, database: " " }, true)?.message).toMatch(/connect through/);
  });

  it("become the backend's fields, trimmed", () => {
    expect(connectionFields({ ...valid, host: " db.example ", port: "6543", password: "pw", pgBin: " " }, "sales")).toEqual({
      host: "db.example",
      port: 6543,
      database: "sales",
      user: "app",
      tls: "prefer",
      password: "pw",
      saved_password_of: null,
      pg_bin: null,
    });
  });

  it("use the saved password when none is typed", () => {
    expect(connectionFields({ ...valid, pgBin: "/usr/lib/postgresql/16/bin" }, "sales")).toMatchObject({
      password: null,
      saved_password_of: "sales",
      pg_bin: "/usr/lib/postgresql/16/bin",
    });
  });

  it("come from a saved connection without its password", () => {
    const saved: Connection = {
      name: "sales",
      host: "db.example",
      port: 6543,
      database: "sales",
      user: "app",
      tls: "require",
      pg_bin: null,
      password_in_keychain: true,
      created_at: "2025-03-01T10:00:00Z",
      updated_at: "2025-03-01T10:00:00Z",
    };
    expect(serverFormOf(saved)).toEqual({ host: "db.example", port: "6543", database: "sales", user: "app", tls: "require", password: "", pgBin: "" });
  });
});

describe("parsePort", () => {
  it("takes whole numbers from 1 to 65535", () => {
    expect(parsePort("5432")).toBe(5432);
    expect(parsePort(" 1 ")).toBe(1);
    expect(parsePort("65535")).toBe(65535);
    expect(parsePort("65536")).toBeNull();
    expect(parsePort("0")).toBeNull();
    expect(parsePort("54.3")).toBeNull();
    expect(parsePort("")).toBeNull();
  });
});

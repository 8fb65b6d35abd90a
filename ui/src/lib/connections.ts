// PostgreSQL connection forms: URL parsing, validation, and the fields the
// backend takes. Pure functions, unit-tested.

import type { Connection, ConnectionFields, ServerScope, TlsMode } from "./bindings";
import type { FieldError } from "./validation";

export const DEFAULT_PORT = 5432;

// Keyed by the generated union: a mode added on the Rust side fails the type check here.
const TLS_LABELS: Record<TlsMode, string> = {
  disable: "disable: never use TLS",
  allow: "allow: TLS if the server insists",
  prefer: "prefer: TLS when the server offers it",
  require: "require: TLS, certificate not checked",
  "verify-ca": "verify-ca: TLS, certificate signed by a trusted CA",
  "verify-full": "verify-full: TLS, certificate matches the host name",
};

export const TLS_MODES = (Object.keys(TLS_LABELS) as TlsMode[]).map((value) => ({ value, label: TLS_LABELS[value] }));

function isTlsMode(value: string): value is TlsMode {
  return Object.hasOwn(TLS_LABELS, value);
}

/** A server form as typed: the port stays text until it is checked. */
export type ServerForm = {
  host: string;
  port: string;
  database: string;
  user: string;
  tls: TlsMode;
  password: string;
  /** Client tools folder; empty: search. */
  pgBin: string;
};

export function emptyServerForm(): ServerForm {
  return { host: "", port: String(DEFAULT_PORT), database: "", user: "", tls: "prefer", password: "", pgBin: "" };
}

/** A saved connection's fields; its password stays in the keychain. */
export function serverFormOf(connection: Connection): ServerForm {
  return {
    host: connection.host,
    port: String(connection.port),
    database: connection.database,
    user: connection.user,
    tls: connection.tls,
    password: "",
    pgBin: connection.pg_bin ?? "",
  };
}

export type ParsedUrl = { host: string; port: number; database: string; user: string; password: string | null; tls: TlsMode };

/** Where a server connection connects to list the databases, unless told otherwise. */
export const MAINTENANCE_DATABASE = "postgres";

/**
 * Reads postgres://user:password@host:port/database?sslmode=require (or
 * postgresql://). Absent parts take libpq's defaults: localhost, 5432,
 * prefer; an absent user stays empty. For a whole server the database may
 * be left out: the maintenance database is used. Returns what to fix when it cannot.
 */
export function parseDatabaseUrl(text: string, wholeServer = false): { url: ParsedUrl } | { error: string } {
  const bad = (why: string) => ({ error: `Not a usable database URL: ${why}.` });
  const match = /^postgres(?:ql)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(text.trim());
  if (!match) return bad("it must look like postgres://user@host:5432/mydb");
  const [, authority, path = "", query = ""] = match;

  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return null;
    }
  };

  const at = authority.lastIndexOf("@");
  const userinfo = at >= 0 ? authority.slice(0, at) : "";
  const hostport = at >= 0 ? authority.slice(at + 1) : authority;

  const colon = userinfo.indexOf(":");
  let user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
  const password = colon >= 0 ? decode(userinfo.slice(colon + 1)) : "";
  if (user === null || password === null) return bad("a %-escape in the user or password is broken");

  let host: string;
  let portText: string;
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]");
    if (close < 0) return bad("an IPv6 address needs its closing ]");
    host = hostport.slice(1, close);
    const rest = hostport.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return bad("after the IPv6 address, only :port may follow");
    portText = rest.slice(1);
  } else {
    const portAt = hostport.indexOf(":");
    host = portAt >= 0 ? hostport.slice(0, portAt) : hostport;
    portText = portAt >= 0 ? hostport.slice(portAt + 1) : "";
  }

  const database = decode(path);
  if (database === null) return bad("a %-escape in the database name is broken");
  if (database === "" && !wholeServer) return bad("name the database at the end, as in postgres://user@host:5432/mydb");

  // libpq's parameters override the URL's parts: ?host=/var/run/postgresql is a Unix socket folder.
  let tls: TlsMode = "prefer";
  for (const pair of query.split("&").filter((p) => p !== "")) {
    const [key, raw = ""] = pair.split("=", 2);
    const value = decode(raw);
    if (value === null) return bad(`a %-escape in ${key} is broken`);
    if (key === "sslmode") {
      if (!isTlsMode(value)) return bad(`sslmode “${value}” is not one of ${Object.keys(TLS_LABELS).join(", ")}`);
      tls = value;
    } else if (key === "host") host = value;
    else if (key === "port") portText = value;
    else if (key === "user") user = value;
    else if (key === "service") return bad("a service from pg_service.conf is read by the CLI (lifeboat connection add); here, fill in the fields");
    else return bad(`the parameter “${key}” is not supported (host, port, user and sslmode are)`);
  }
  const port = portText === "" ? DEFAULT_PORT : parsePort(portText);
  if (port === null) return bad(`the port “${portText}” is not a number from 1 to 65535`);

  return { url: { host: host || "localhost", port, database: database || MAINTENANCE_DATABASE, user, password: colon >= 0 ? password : null, tls } };
}

/** The form with what a URL says; a password only when the URL has one. */
export function withUrl(form: ServerForm, url: ParsedUrl): ServerForm {
  return {
    ...form,
    host: url.host,
    port: String(url.port),
    database: url.database,
    user: url.user,
    tls: url.tls,
    password: url.password ?? form.password,
  };
}

/** "5432" -> 5432; null unless a whole number from 1 to 65535. */
export function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text.trim())) return null;
  const port = Number(text.trim());
  return port >= 1 && port <= 65535 ? port : null;
}

export type ServerField = "host" | "port" | "database" | "user";

/** Null when the form can be sent, else what to fix. */
export function validateServerForm(form: ServerForm): FieldError<ServerField> | null {
  if (form.host.trim() === "") return { field: "host", message: "Enter the server’s host name or address (for example db.example.com)." };
  if (parsePort(form.port) === null) return { field: "port", message: `The port is a number from 1 to 65535 (PostgreSQL’s default is ${DEFAULT_PORT}).` };
  if (form.database.trim() === "") return { field: "database", message: "Enter the database’s name." };
  if (form.user.trim() === "") return { field: "user", message: "Enter the user name to connect as." };
  return null;
}

export function validateConnection(name: string, form: ServerForm, wholeServer = false): FieldError<ServerField | "name"> | null {
  if (name.trim() === "") return { field: "name", message: "Name the connection (for example orders-prod): it also names its backups." };
  if (wholeServer && form.database.trim() === "")
    return { field: "database", message: `Enter the database to connect through to list the others (${MAINTENANCE_DATABASE} on most servers).` };
  return validateServerForm(form);
}

/** "app_*, metrics" -> ["app_*", "metrics"]: patterns are separated by commas or spaces. */
export function parsePatterns(text: string): string[] {
  return text.split(/[\s,]+/).filter((p) => p !== "");
}

/** The databases a server connection covers, from the form's pattern fields. */
export function serverScope(include: string, exclude: string): ServerScope {
  return { include: parsePatterns(include), exclude: parsePatterns(exclude) };
}

/**
 * What the backend takes. Without a typed password, `savedPasswordOf` names
 * the saved connection whose keychain password to use.
 */
export function connectionFields(form: ServerForm, savedPasswordOf: string | null = null): ConnectionFields {
  const pgBin = form.pgBin.trim();
  return {
    host: form.host.trim(),
    port: parsePort(form.port) ?? DEFAULT_PORT,
    database: form.database.trim(),
    user: form.user.trim(),
    tls: form.tls,
    password: form.password === "" ? null : form.password,
    saved_password_of: form.password === "" ? savedPasswordOf : null,
    pg_bin: pgBin === "" ? null : pgBin,
  };
}

// The Checkpoint API section: the port it serves on, checked before it is sent.

import type { FieldError } from "./validation";

export type ApiTokenField = "name" | "database";

/** A port typed into the form: 1 to 65535, or the problem to show beside the field. */
export function parsePort(text: string): { port: number | null; problem: FieldError<"port"> | null } {
  const trimmed = text.trim();
  const port = /^\d{1,5}$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return { port: null, problem: { field: "port", message: "Give a port from 1 to 65535, for example 8555." } };
  }
  return { port, problem: null };
}

// The Alerts form: what it sends to `save_channel`, and the labels it shows.

import type { ChannelRequest, Route, WebhookFormat } from "./bindings";
import type { FieldError } from "./validation";

export type ChannelField = "name" | "smtp" | "to" | "webhook";

export type ChannelDraft = {
  name: string;
  kind: "email" | "webhook";
  smtpUrl: string;
  to: string;
  from: string;
  smtpPassword: string;
  webhookUrl: string;
  format: WebhookFormat;
  routes: Route[];
};

// Keyed by the generated types: a route or format added on the Rust side fails the type check here.
export const ROUTES: Record<Route, string> = {
  failure: "Failures",
  restore: "Restores",
  drill: "Drills",
  stale: "Stale backups",
  success: "Successes",
};

export const FORMATS: Record<WebhookFormat, string> = {
  generic: "Generic JSON",
  slack: "Slack",
  discord: "Discord",
  teams: "Microsoft Teams (Workflows)",
  ntfy: "ntfy",
  gotify: "Gotify",
};

export const emptyDraft = (): ChannelDraft => ({
  name: "",
  kind: "webhook",
  smtpUrl: "",
  to: "",
  from: "",
  smtpPassword: "",
  webhookUrl: "",
  format: "slack",
  routes: ["failure", "restore", "drill", "stale"],
});

export function validateChannel(d: ChannelDraft): FieldError<ChannelField> | null {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(d.name.trim())) {
    return { field: "name", message: "Name the channel with up to 64 letters, digits and . _ -" };
  }
  if (d.kind === "email") {
    if (!/^smtps?:\/\//.test(d.smtpUrl.trim())) {
      return { field: "smtp", message: "Give the SMTP server as smtps://USER@HOST:465 or smtp://USER@HOST:587." };
    }
    if (!d.to.includes("@")) return { field: "to", message: "Give at least one address to send to." };
  } else if (!/^https?:\/\//.test(d.webhookUrl.trim())) {
    return { field: "webhook", message: "Give the webhook's URL, starting with https://." };
  }
  return null;
}

export function channelRequest(d: ChannelDraft, replace: boolean): ChannelRequest {
  const email = d.kind === "email";
  return {
    name: d.name.trim(),
    smtp_url: email ? d.smtpUrl.trim() : null,
    to: email ? d.to.trim() : null,
    from: email && d.from.trim() ? d.from.trim() : null,
    smtp_password: email && d.smtpPassword ? d.smtpPassword : null,
    webhook_url: email ? null : d.webhookUrl.trim(),
    format: email ? null : d.format,
    routes: d.routes,
    replace,
  };
}

import { describe, expect, it } from "vitest";
import { channelRequest, emptyDraft, validateChannel } from "./channels";

describe("the Alerts form", () => {
  it("sends only the fields of the chosen kind", () => {
    const hook = { ...emptyDraft(), name: "team-chat", webhookUrl: " https://hooks.slack.com/services/x ", smtpUrl: "smtp://left@over" };
    expect(validateChannel(hook)).toBeNull();
    expect(channelRequest(hook, false)).toMatchObject({
      name: "team-chat",
      webhook_url: "https://hooks.slack.com/services/x",
      format: "slack",
      smtp_url: null,
      smtp_password: null,
      routes: ["failure", "restore", "drill", "stale"],
    });
    const mail = { ...emptyDraft(), kind: "email" as const, name: "oncall", smtpUrl: "smtps://ops@mail.example", to: "a@team.example", smtpPassword: "pw" };
    expect(validateChannel(mail)).toBeNull();
    expect(channelRequest(mail, true)).toMatchObject({ smtp_url: "smtps://ops@mail.example", smtp_password: "pw", webhook_url: null, format: null, from: null, replace: true });
  });

  it("names the field that is wrong", () => {
    expect(validateChannel({ ...emptyDraft(), name: "team chat" })?.field).toBe("name");
    expect(validateChannel({ ...emptyDraft(), name: "x", webhookUrl: "hooks.slack.com" })?.field).toBe("webhook");
    expect(validateChannel({ ...emptyDraft(), name: "x", kind: "email", smtpUrl: "mail.example" })?.field).toBe("smtp");
    expect(validateChannel({ ...emptyDraft(), name: "x", kind: "email", smtpUrl: "smtp://m", to: "nobody" })?.field).toBe("to");
  });
});

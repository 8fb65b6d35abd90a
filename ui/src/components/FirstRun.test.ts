import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { CreateRequest, OpenRequest, TestLocationRequest } from "../lib/bindings";
import { openRepository } from "../test/fixtures";
import FirstRun from "./FirstRun.svelte";

async function type(element: HTMLElement, value: string) {
  await fireEvent.input(element, { target: { value } });
}

const locationField = () => screen.getByRole<HTMLInputElement>("textbox", { name: "Repository location" });
// Password inputs have no role: found by their labels.
const passphraseField = () => screen.getByLabelText<HTMLInputElement>("Passphrase");
const repeatField = () => screen.getByLabelText<HTMLInputElement>("Repeat passphrase");
const createButton = () => screen.getByRole<HTMLButtonElement>("button", { name: /^(Create repository|Creating…)$/ });
const openButton = () => screen.getByRole<HTMLButtonElement>("button", { name: /^(Open repository|Opening…)$/ });
const openTab = () => screen.getByRole("tab", { name: "Open existing repository" });

/** Waits for the form's alert to say `message`. */
async function alertSays(message: RegExp | string) {
  await waitFor(() => expect(screen.getByRole("alert").textContent).toMatch(message));
  return screen.getByRole("alert");
}

describe("First run: create", () => {
  it("shows a validation error without calling the backend", async () => {
    const ipc = vi.fn();
    mockIPC(ipc);
    const onopened = vi.fn();
    render(FirstRun, { onopened });

    expect(screen.getByRole("main")).toBeTruthy();
    await type(locationField(), "relative/folder");
    await type(passphraseField(), "long enough passphrase");
    await type(repeatField(), "long enough passphrase");
    await fireEvent.click(createButton());

    await alertSays(/full path/);
    expect(document.activeElement).toBe(locationField());

    await type(locationField(), "/mnt/nas/lifeboat");
    await type(repeatField(), "long enough passphrasf");
    await fireEvent.click(createButton());
    await alertSays(/differ/);

    await type(passphraseField(), "short");
    await type(repeatField(), "short");
    await fireEvent.click(createButton());
    await alertSays(/at least 8 characters/);

    expect(ipc).not.toHaveBeenCalled();
    expect(onopened).not.toHaveBeenCalled();
  });

  it("creates the repository with the form's request", async () => {
    let request: CreateRequest | undefined;
    let release!: () => void;
    mockIPC(async (cmd, args) => {
      if (cmd !== "create_repository") throw new Error(`unexpected ${cmd}`);
      request = (args as { request: CreateRequest }).request;
      await new Promise<void>((resolve) => (release = resolve));
      return openRepository;
    });
    const onopened = vi.fn();
    render(FirstRun, { onopened });

    await type(locationField(), "/mnt/nas/lifeboat");
    await type(screen.getByRole("textbox", { name: "Repository label (optional)" }), "Team NAS");
    await type(passphraseField(), "correct horse battery staple");
    await type(repeatField(), "correct horse battery staple");
    await fireEvent.submit(screen.getByRole("form", { name: "Create a new repository" }));
    await waitFor(() => expect(request).toBeDefined());

    const button = createButton();
    expect(button.disabled).toBe(true);
    expect(button.textContent).toContain("Creating…");
    expect(request).toEqual({
      location: "/mnt/nas/lifeboat",
      passphrase: "correct horse battery staple",
      key_label: "admin workstation",
      repository_label: "Team NAS",
      access_key: null,
    });

    release();
    await waitFor(() => expect(onopened).toHaveBeenCalledWith(openRepository, "created"));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("asks for an S3 bucket's access key, and pins the backend's refusal on it", async () => {
    let request: CreateRequest | undefined;
    mockIPC((_cmd, args) => {
      request = (args as { request: CreateRequest }).request;
      throw { code: "invalid_input", message: "enter both the access key ID and its secret", field: "access_key" };
    });
    render(FirstRun, { onopened: vi.fn() });
    expect(screen.queryByRole("textbox", { name: "Access key ID (optional)" })).toBeNull();
    await type(locationField(), "s3://team-backups/lifeboat");
    const keyId = screen.getByRole<HTMLInputElement>("textbox", { name: "Access key ID (optional)" });
    await type(passphraseField(), "correct horse battery staple");
    await type(repeatField(), "correct horse battery staple");

    await type(keyId, "AKIAEXAMPLE");
    await fireEvent.click(createButton());
    await alertSays(/both the access key ID and its secret/);
    expect(request).toBeUndefined();
    expect(document.activeElement).toBe(keyId);

    await type(screen.getByLabelText<HTMLInputElement>("Secret access key (optional)"), "s3cret");
    await fireEvent.click(createButton());
    await alertSays(/enter both the access key ID and its secret/);
    expect(request?.location).toBe("s3://team-backups/lifeboat");
    expect(request?.access_key).toEqual({ access_key_id: "AKIAEXAMPLE", secret_access_key: "s3cret" });
    expect(keyId.getAttribute("aria-invalid")).toBe("true");
  });

  it("tests a remote location's connection, and forgets the result when the location changes", async () => {
    const requests: TestLocationRequest[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== "test_location") throw new Error(`unexpected ${cmd}`);
      const request = (args as { request: TestLocationRequest }).request;
      requests.push(request);
      if (request.location.includes("stranger")) {
        throw { code: "storage", message: "connecting to sftp://stranger@nas/x: the server refused the login" };
      }
      return { location: request.location, holds_repository: false, atomic_replace: true, conditional_create: true };
    });
    render(FirstRun, { onopened: vi.fn() });
    const testButton = () => screen.queryByRole<HTMLButtonElement>("button", { name: /^(Test connection|Testing…)$/ });
    await type(locationField(), "/mnt/nas/lifeboat");
    expect(testButton()).toBeNull();

    await type(locationField(), "sftp://backup@nas.lan/srv/lifeboat");
    expect(screen.getByText(/never a password/)).toBeTruthy();
    await fireEvent.click(testButton()!);
    const result = await screen.findByRole("status");
    expect(result.textContent).toMatch(/Connected: listing, writing, reading and deleting work\. No repository there yet\./);
    expect(requests).toEqual([{ location: "sftp://backup@nas.lan/srv/lifeboat", access_key: null }]);

    await type(locationField(), "sftp://stranger@nas/x");
    expect(screen.queryByRole("status")).toBeNull();
    await fireEvent.click(testButton()!);
    await alertSays(/refused the login/);
    await waitFor(() => expect(testButton()!.disabled).toBe(false));
  });

  it("shows the backend's error when the folder is taken", async () => {
    const message = "a repository already exists at /mnt/nas/lifeboat: open it instead of creating a new one";
    mockIPC(() => {
      throw { code: "already_exists", message };
    });
    render(FirstRun, { onopened: vi.fn() });
    await type(locationField(), "/mnt/nas/lifeboat");
    await type(passphraseField(), "correct horse battery staple");
    await type(repeatField(), "correct horse battery staple");
    await fireEvent.click(createButton());
    expect((await screen.findByRole("alert")).textContent).toContain(message);
    await waitFor(() => expect(createButton().disabled).toBe(false));
  });
});

describe("First run: open", () => {
  it("shows the backend's wrong-passphrase error", async () => {
    const message = "wrong passphrase: no key slot of this repository opens with it";
    let request: OpenRequest | undefined;
    mockIPC((cmd, args) => {
      if (cmd === "open_repository") {
        request = (args as { request: OpenRequest }).request;
        throw { code: "wrong_passphrase", message };
      }
    });
    const onopened = vi.fn();
    render(FirstRun, { onopened });

    await fireEvent.click(openTab());
    await type(locationField(), "/mnt/nas/lifeboat");
    await type(passphraseField(), "not the passphrase");
    await fireEvent.click(openButton());
    const error = await screen.findByRole("alert");

    expect(request).toEqual({ location: "/mnt/nas/lifeboat", passphrase: "not the passphrase", recovery_kit: null, access_key: null });
    expect(error.textContent).toContain(message);
    await waitFor(() => expect(passphraseField().getAttribute("aria-invalid")).toBe("true"));
    expect(openButton().textContent).toContain("Open repository");
    expect(onopened).not.toHaveBeenCalled();
  });

  it("opens with a pasted recovery kit", async () => {
    let request: OpenRequest | undefined;
    mockIPC((_cmd, args) => {
      request = (args as { request: OpenRequest }).request;
      return { ...openRepository, opened_with: "recovery_kit" };
    });
    const onopened = vi.fn();
    render(FirstRun, { onopened });

    await fireEvent.click(openTab());
    await type(locationField(), "/mnt/nas/lifeboat");
    await fireEvent.click(screen.getByRole("checkbox", { name: "Use a recovery kit instead of a passphrase" }));
    expect(screen.queryByLabelText("Passphrase")).toBeNull();
    await type(screen.getByRole("textbox", { name: "Recovery kit" }), "LIFEBOAT RECOVERY KIT\nkey: abc");
    await fireEvent.click(openButton());
    await waitFor(() => expect(onopened).toHaveBeenCalled());

    expect(request).toEqual({
      location: "/mnt/nas/lifeboat",
      passphrase: null,
      recovery_kit: "LIFEBOAT RECOVERY KIT\nkey: abc",
      access_key: null,
    });
    expect(onopened).toHaveBeenCalledWith({ ...openRepository, opened_with: "recovery_kit" }, "opened");
  });

  it("asks for the secret of the repository it could not reopen", () => {
    render(FirstRun, {
      onopened: vi.fn(),
      needsUnlock: { id: "abc", location: "/srv/lifeboat", label: "Prod", last_opened_at: "2025-03-01T10:00:00Z" },
      reopenError: { code: "other", message: "the OS keychain is not available: no D-Bus session" },
    });
    const notice = screen.getByRole("status");
    expect(notice.textContent).toContain("/srv/lifeboat");
    expect(notice.textContent).toContain("passphrase or recovery kit");
    expect(notice.textContent).toContain("the OS keychain is not available: no D-Bus session");
    expect(locationField().value).toBe("/srv/lifeboat");
    expect(openTab().getAttribute("aria-selected")).toBe("true");
  });
});

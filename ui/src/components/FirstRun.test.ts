import { mockIPC } from "@tauri-apps/api/mocks";
import { fireEvent, render } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { CreateRequest, OpenRequest } from "../lib/bindings";
import { openRepository, settle } from "../test/fixtures";
import FirstRun from "./FirstRun.svelte";

function $(container: HTMLElement, selector: string) {
  const element = container.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} not found`);
  return element;
}

async function type(container: HTMLElement, selector: string, value: string) {
  await fireEvent.input($(container, selector), { target: { value } });
}

describe("First run: create", () => {
  it("shows a validation error without calling the backend", async () => {
    const ipc = vi.fn();
    mockIPC(ipc);
    const onopened = vi.fn();
    const { container } = render(FirstRun, { onopened });

    expect($(container, "#first-run")).toBeTruthy();
    await type(container, "#create-location", "relative/folder");
    await type(container, "#create-passphrase", "long enough passphrase");
    await type(container, "#create-passphrase-confirm", "long enough passphrase");
    await fireEvent.click($(container, "#create-submit"));
    await settle();

    const error = $(container, "#form-error");
    expect(error.getAttribute("role")).toBe("alert");
    expect(error.textContent).toMatch(/full path/);
    expect(document.activeElement?.id).toBe("create-location");

    await type(container, "#create-location", "/mnt/nas/lifeboat");
    await type(container, "#create-passphrase-confirm", "long enough passphrasf");
    await fireEvent.click($(container, "#create-submit"));
    await settle();
    expect($(container, "#form-error").textContent).toMatch(/differ/);

    await type(container, "#create-passphrase", "short");
    await type(container, "#create-passphrase-confirm", "short");
    await fireEvent.click($(container, "#create-submit"));
    await settle();
    expect($(container, "#form-error").textContent).toMatch(/at least 8 characters/);

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
    const { container } = render(FirstRun, { onopened });

    await type(container, "#create-location", "/mnt/nas/lifeboat");
    await type(container, "#create-label", "Team NAS");
    await type(container, "#create-passphrase", "correct horse battery staple");
    await type(container, "#create-passphrase-confirm", "correct horse battery staple");
    await fireEvent.submit($(container, "#create-submit").closest("form")!);
    await settle();

    const button = $(container, "#create-submit") as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.textContent).toContain("Creating…");
    expect(request).toEqual({
      location: "/mnt/nas/lifeboat",
      passphrase: "correct horse battery staple",
      key_label: "admin workstation",
      repository_label: "Team NAS",
    });

    release();
    await settle();
    expect(onopened).toHaveBeenCalledWith(openRepository, "created");
    expect(container.querySelector("#form-error")).toBeNull();
  });

  it("shows the backend's error when the folder is taken", async () => {
    const message = "a repository already exists at /mnt/nas/lifeboat: open it instead of creating a new one";
    mockIPC(() => {
      throw { code: "already_exists", message };
    });
    const { container } = render(FirstRun, { onopened: vi.fn() });
    await type(container, "#create-location", "/mnt/nas/lifeboat");
    await type(container, "#create-passphrase", "correct horse battery staple");
    await type(container, "#create-passphrase-confirm", "correct horse battery staple");
    await fireEvent.click($(container, "#create-submit"));
    await settle();
    expect($(container, "#form-error").textContent).toContain(message);
    expect(($(container, "#create-submit") as HTMLButtonElement).disabled).toBe(false);
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
    const { container } = render(FirstRun, { onopened });

    await fireEvent.click($(container, "#tab-open"));
    await type(container, "#open-location", "/mnt/nas/lifeboat");
    await type(container, "#open-passphrase", "not the passphrase");
    await fireEvent.click($(container, "#open-submit"));
    await settle();

    expect(request).toEqual({ location: "/mnt/nas/lifeboat", passphrase: "not the passphrase", recovery_kit: null });
    const error = $(container, "#form-error");
    expect(error.getAttribute("role")).toBe("alert");
    expect(error.textContent).toContain(message);
    expect($(container, "#open-passphrase").getAttribute("aria-invalid")).toBe("true");
    expect(($(container, "#open-submit") as HTMLButtonElement).textContent).toContain("Open repository");
    expect(onopened).not.toHaveBeenCalled();
  });

  it("opens with a pasted recovery kit", async () => {
    let request: OpenRequest | undefined;
    mockIPC((_cmd, args) => {
      request = (args as { request: OpenRequest }).request;
      return { ...openRepository, opened_with: "recovery_kit" };
    });
    const onopened = vi.fn();
    const { container } = render(FirstRun, { onopened });

    await fireEvent.click($(container, "#tab-open"));
    await type(container, "#open-location", "/mnt/nas/lifeboat");
    await fireEvent.click($(container, "#open-use-kit"));
    expect(container.querySelector("#open-passphrase")).toBeNull();
    await type(container, "#open-recovery-kit", "LIFEBOAT RECOVERY KIT\nkey: abc");
    await fireEvent.click($(container, "#open-submit"));
    await settle();

    expect(request).toEqual({ location: "/mnt/nas/lifeboat", passphrase: null, recovery_kit: "LIFEBOAT RECOVERY KIT\nkey: abc" });
    expect(onopened).toHaveBeenCalledWith({ ...openRepository, opened_with: "recovery_kit" }, "opened");
  });

  it("asks for the secret of the repository it could not reopen", () => {
    const { container } = render(FirstRun, {
      onopened: vi.fn(),
      needsUnlock: { id: "abc", location: "/srv/lifeboat", label: "Prod", last_opened_at: "2025-03-01T10:00:00Z" },
      reopenError: { code: "other", message: "the OS keychain is not available: no D-Bus session" },
    });
    const notice = $(container, "#unlock-notice");
    expect(notice.textContent).toContain("/srv/lifeboat");
    expect(notice.textContent).toContain("passphrase or recovery kit");
    expect(notice.textContent).toContain("the OS keychain is not available: no D-Bus session");
    expect(($(container, "#open-location") as HTMLInputElement).value).toBe("/srv/lifeboat");
    expect($(container, "#tab-open").getAttribute("aria-selected")).toBe("true");
  });
});
